// Package bench holds comparisons of kvkit against other libraries. It is a
// separate module so that their dependencies never reach kvkit's users.
//
//	cd bench && go test -run '^$' -bench . -benchmem ./...
//
// The performance table (issue 16: every row, ours against its reference,
// as medians of interleaved per-round ratios) is a program:
//
//	cd bench && go run ./perf          # the whole table, a few minutes
//	cd bench && go run ./perf -quick   # every row briefly: does it work?
//	cd bench && go run ./perf -run session -profile /tmp/prof
//
// TestQuick in ./perf runs every row the -quick way, so the bench module's
// tests check that the table still runs.
package bench
