package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// Config sets how long and how often each measurement runs.
type Config struct {
	// Batch is the wall time of one timed batch of one side of a pair.
	Batch time.Duration
	// Rounds is the number of interleaved rounds (ours, reference) whose
	// per-round ratios give the median.
	Rounds int
	// OneShotRounds is the number of rounds of the one-shot rows (a whole
	// load or flush per round, rebuilt between rounds).
	OneShotRounds int
	// Scale divides the sizes of the rows (100,000 sessions, 10,000 flags...)
	// in -quick mode, where only "it works" is checked.
	Scale int
	// ProfileDir, when set, receives one CPU profile per row of our side
	// run alone for Profile after the rounds.
	ProfileDir string
	Profile    time.Duration
	// Quick marks a run that checks that each row works: targets are
	// printed but not judged.
	Quick bool
	// Wall times batches by the wall clock instead of the process's CPU
	// time. CPU time leaves out the time the process waited for a core,
	// which on a shared machine is most of the noise.
	Wall bool
}

// n returns size scaled down for quick runs (never below min).
func (c *Config) n(size, min int) int {
	if c.Scale <= 1 {
		return size
	}
	return max(size/c.Scale, min)
}

// Side is one thing to time: run performs n operations.
type Side func(n int)

// Pair is our side and the reference side of one row.
type Pair struct {
	Ours, Ref Side
	// Units per operation for the allocs column (e.g. 64 callers per
	// burst). Default 1.
	PerOp int
}

// Cmp is the result of comparing a pair.
type Cmp struct {
	OursNs, RefNs         float64 // median ns per operation
	Ratio                 float64 // median of the per-round ratios
	Lo, Hi                float64 // interquartile range of the per-round ratios
	OursAllocs, RefAllocs float64 // allocations per unit (PerOp)
	Rounds                int
}

// clock returns the current time of the clock batches are timed by.
func (c *Config) clock() time.Duration {
	if c.Wall {
		return time.Duration(time.Now().UnixNano())
	}
	return cpuTime()
}

// timeIt times n operations of s. A collection runs first, outside the
// clock, so that one side never pays for collecting the garbage the other
// made (on a large heap one cycle can cost more than a batch, and landing
// on the same side round after round it skewed the median); the cycles a
// batch's own allocations start still count.
func (c *Config) timeIt(s Side, n int) time.Duration {
	runtime.GC()
	t0 := c.clock()
	s(n)
	return c.clock() - t0
}

// calibrate returns the n for which one batch of s takes about d; it also
// serves as s's warm-up.
func (c *Config) calibrate(s Side, d time.Duration) int {
	n := 1
	for {
		t := c.timeIt(s, n)
		if t >= d/4 || n >= 1<<30 {
			if t <= 0 {
				t = 1
			}
			return max(1, int(float64(n)*float64(d)/float64(t)))
		}
		if t < d/100 {
			n *= 10
		} else {
			n *= 2
		}
	}
}

func allocsPerOp(s Side, n int) float64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	s(n)
	runtime.ReadMemStats(&m1)
	return float64(m1.Mallocs-m0.Mallocs) / float64(n)
}

// Compare interleaves batches of ours and the reference for cfg.Rounds
// rounds (alternating which goes first) and returns the median ns/op of
// each, the median of the per-round ratios and their interquartile range.
func (c *Config) Compare(name string, p Pair) Cmp {
	if p.PerOp == 0 {
		p.PerOp = 1
	}
	nO, nR := c.calibrate(p.Ours, c.Batch), c.calibrate(p.Ref, c.Batch)
	// One more batch each, at the calibrated size, before the clock counts.
	c.timeIt(p.Ours, nO)
	c.timeIt(p.Ref, nR)
	runtime.GC()
	ratios := make([]float64, 0, c.Rounds)
	oursNs := make([]float64, 0, c.Rounds)
	refNs := make([]float64, 0, c.Rounds)
	for i := range c.Rounds {
		var to, tr time.Duration
		if i%2 == 0 {
			to = c.timeIt(p.Ours, nO)
			tr = c.timeIt(p.Ref, nR)
		} else {
			tr = c.timeIt(p.Ref, nR)
			to = c.timeIt(p.Ours, nO)
		}
		o := float64(to.Nanoseconds()) / float64(nO)
		r := float64(tr.Nanoseconds()) / float64(nR)
		oursNs, refNs = append(oursNs, o), append(refNs, r)
		ratios = append(ratios, o/r)
	}
	res := Cmp{OursNs: median(oursNs), RefNs: median(refNs), Ratio: median(ratios), Rounds: c.Rounds}
	res.Lo, res.Hi = quartiles(ratios)
	res.OursAllocs = allocsPerOp(p.Ours, max(nO/4, 1)) / float64(p.PerOp)
	res.RefAllocs = allocsPerOp(p.Ref, max(nR/4, 1)) / float64(p.PerOp)
	c.profile(name, func(stop func() bool) {
		for !stop() {
			p.Ours(max(nO/10, 1))
		}
	})
	return res
}

// Prepared is an operation whose setup is done: calling it runs (and
// times) the operation alone.
type Prepared func() error

// OneShot times ours and the reference once per round, each after its own
// untimed prepare, interleaved, for cfg.OneShotRounds rounds; a round
// whose own side takes over limit ends the rounds early. With ProfileDir
// it then profiles our operation alone (prepare excluded) for about
// cfg.Profile, one profile file per operation (pprof merges them).
func (c *Config) OneShot(name string, ours, ref func() (Prepared, error), limit time.Duration) (o, r time.Duration, rounds int, err error) {
	timed := func(prepare func() (Prepared, error)) (time.Duration, error) {
		op, err := prepare()
		if err != nil {
			return 0, err
		}
		runtime.GC()
		t0 := c.clock()
		err = op()
		return c.clock() - t0, err
	}
	var ous, rs []float64
	for i := range c.OneShotRounds {
		var to, tr time.Duration
		if i%2 == 0 {
			if to, err = timed(ours); err == nil {
				tr, err = timed(ref)
			}
		} else {
			if tr, err = timed(ref); err == nil {
				to, err = timed(ours)
			}
		}
		if err != nil {
			return 0, 0, 0, err
		}
		ous, rs = append(ous, float64(to)), append(rs, float64(tr))
		if to > limit {
			break
		}
	}
	if c.ProfileDir != "" {
		var spent time.Duration
		for i := 0; spent < c.Profile; i++ {
			op, err := ours()
			if err != nil {
				return 0, 0, 0, err
			}
			t0 := time.Now()
			c.profile(fmt.Sprintf("%s.%d", name, i), func(func() bool) { _ = op() })
			spent += time.Since(t0)
		}
	}
	return time.Duration(median(ous)), time.Duration(median(rs)), len(ous), nil
}

// profile runs work under the CPU profiler for cfg.Profile, writing
// ProfileDir/<name>.prof.
func (c *Config) profile(name string, work func(stop func() bool)) {
	if c.ProfileDir == "" {
		return
	}
	f, err := os.Create(filepath.Join(c.ProfileDir, fileName(name)+".prof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	end := time.Now().Add(c.Profile)
	work(func() bool { return time.Now().After(end) })
	pprof.StopCPUProfile()
}

func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, name)
}

// HeapPerEntry returns the bytes of live heap that build adds per entry:
// build makes n entries and returns what keeps them alive.
func HeapPerEntry(n int, build func(n int) (keep any, err error)) (float64, error) {
	h0 := liveHeap()
	keep, err := build(n)
	if err != nil {
		return 0, err
	}
	h1 := liveHeap()
	runtime.KeepAlive(keep)
	return float64(int64(h1)-int64(h0)) / float64(n), nil
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quartiles returns the 25th and 75th percentiles (nearest rank).
func quartiles(xs []float64) (float64, float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return at(0.25), at(0.75)
}
