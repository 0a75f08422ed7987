// Command perf measures every row of kvkit's performance table (issue 16)
// in one run and prints it: each row sets kvkit against a reference (a
// bare handler, a peer library, or kvkit itself at a small size) and
// reports the ratio of the two.
//
//	cd bench && go run ./perf                 # the whole table, a few minutes
//	cd bench && go run ./perf -run session    # rows whose ID matches
//	cd bench && go run ./perf -quick          # every row briefly: does it work?
//	cd bench && go run ./perf -profile /tmp/p # + one CPU profile of our side per row
//	go tool pprof -top /tmp/p/<row>.prof
//
// How a ratio is measured: both sides are calibrated so that one batch
// takes about -batch (default 20 ms), then timed in -rounds (default 21)
// interleaved rounds, alternating which side goes first; the ratio is the
// median of the per-round ratios, and the interquartile range of those
// ratios is printed beside it. A shared, noisy machine can preempt a
// batch; the median of ratios lets that batch fall away instead of
// skewing a sum. Batches are timed by the CPU time of the whole process
// (every thread: GC workers, flushers and waiters included), which leaves
// out the time spent waiting for a core while other work runs on the
// machine; -wall times them by the wall clock instead. Each batch starts
// after a garbage collection (not timed), so that neither side pays for
// the other's garbage. Rows that time one
// whole operation (loading every flag, flushing 100,000 counters) rebuild
// their state between rounds and report the median of -oneshot rounds.
//
// The HTTP rows answer each request as a server would: a fresh copy of a
// prepared request (Request.Clone) and a fresh httptest.ResponseRecorder,
// for both sides.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Row is one line of the table.
type Row struct {
	ID     string // short name, for -run and profile files
	Name   string // what is measured, as in the issue
	Target string // as printed
	Run    func(c *Config) (Line, error)
}

// Line is a measured row.
type Line struct {
	Ours, Ref string
	Ratio     string
	Pass      bool
	Judged    bool // false: informational, no target
	Notes     string
}

func main() {
	quick := flag.Bool("quick", false, "run every row briefly at a tenth of its size, and check only that it works")
	run := flag.String("run", "", "only rows whose ID matches this regular expression")
	batch := flag.Duration("batch", 20*time.Millisecond, "wall time of one timed batch")
	rounds := flag.Int("rounds", 21, "interleaved rounds per ratio")
	oneshot := flag.Int("oneshot", 5, "rounds of the rows that time one whole operation")
	profile := flag.String("profile", "", "directory for one CPU profile per row (our side alone)")
	profFor := flag.Duration("profile-time", 3*time.Second, "how long each row is profiled")
	wall := flag.Bool("wall", false, "time batches by the wall clock instead of the process's CPU time")
	list := flag.Bool("list", false, "list the rows and exit")
	flag.Parse()

	cfg := &Config{Batch: *batch, Rounds: *rounds, OneShotRounds: *oneshot, Scale: 1,
		ProfileDir: *profile, Profile: *profFor, Wall: *wall}
	if *quick {
		cfg.Quick, cfg.Batch, cfg.Rounds, cfg.OneShotRounds, cfg.Scale = true, time.Millisecond, 3, 1, 10
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	re, err := regexp.Compile(*run)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *list {
		for _, r := range rows {
			fmt.Printf("%-18s %s\n", r.ID, r.Name)
		}
		return
	}
	if failed := Table(os.Stdout, cfg, re); failed > 0 {
		os.Exit(1)
	}
}

// Table runs the rows matching re and prints the table to w. It returns
// the number of rows that failed to run.
func Table(w io.Writer, cfg *Config, re *regexp.Regexp) (failed int) {
	clock := "process CPU time"
	if cfg.Wall {
		clock = "wall clock"
	}
	fmt.Fprintf(w, "kvkit performance table: %s, %s/%s, GOMAXPROCS=%d, %d rounds of %v by %s",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), cfg.Rounds, cfg.Batch, clock)
	if cfg.Quick {
		fmt.Fprint(w, ", QUICK (sizes / 10, targets not judged)")
	}
	fmt.Fprintf(w, "\n\n| Row | ID | Ours | Reference | Ratio [IQR] | Target | |\n|---|---|---|---|---|---|---|\n")
	var notes []string
	for _, r := range rows {
		if !re.MatchString(r.ID) {
			continue
		}
		start := time.Now()
		l, err := r.Run(cfg)
		took := time.Since(start).Round(100 * time.Millisecond)
		if err != nil {
			failed++
			fmt.Fprintf(w, "| %s | %s | ERROR | | | %s | %v |\n", r.Name, r.ID, r.Target, oneLine(err.Error()))
			continue
		}
		verdict := ""
		switch {
		case !l.Judged:
		case cfg.Quick:
			verdict = "(quick)"
		case l.Pass:
			verdict = "pass"
		default:
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Name, r.ID, l.Ours, l.Ref, l.Ratio, r.Target, verdict)
		notes = append(notes, fmt.Sprintf("- %s (%v): %s", r.ID, took, l.Notes))
	}
	fmt.Fprintf(w, "\n%s\n", strings.Join(notes, "\n"))
	return failed
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// ratioLine formats a compared pair whose target is ratio <= limit.
func ratioLine(c Cmp, limit float64, unit func(ns float64) string) Line {
	if unit == nil {
		unit = fmtNs
	}
	return Line{
		Ours: unit(c.OursNs), Ref: unit(c.RefNs),
		Ratio:  fmt.Sprintf("%.2f× [%.2f–%.2f]", c.Ratio, c.Lo, c.Hi),
		Pass:   c.Ratio <= limit,
		Judged: limit > 0,
		Notes: fmt.Sprintf("allocs/op ours %s, reference %s; %d rounds",
			fmtAllocs(c.OursAllocs), fmtAllocs(c.RefAllocs), c.Rounds),
	}
}

func fmtAllocs(a float64) string {
	if a < 10 {
		return fmt.Sprintf("%.1f", a)
	}
	return fmt.Sprintf("%.0f", a)
}

func fmtNs(ns float64) string {
	switch {
	case ns < 1_000:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1_000_000:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	case ns < 1_000_000_000:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	}
	return fmt.Sprintf("%.2f s", ns/1e9)
}

func fmtBytes(b float64) string {
	if b < 10_000 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.1f KB", b/1e3)
}
