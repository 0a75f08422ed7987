// Package bench holds comparisons of kvkit against other libraries. It is a
// separate module so that their dependencies never reach kvkit's users.
//
//	cd bench && go test -run '^$' -bench . -benchmem ./...
package bench
