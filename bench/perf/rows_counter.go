package main

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/counter"
)

func counterNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "page:" + strconv.Itoa(i)
	}
	return names
}

func rowCounterInc(c *Config) (Line, error) {
	names := counterNames(1000)
	ctr, err := counter.New(memory.New(memory.Options{}), counter.Options{Logger: quiet})
	if err != nil {
		return Line{}, err
	}
	defer closeAll(ctr)
	for _, name := range names {
		if _, err := ctr.Increment(ctx, name, 1); err != nil {
			return Line{}, err
		}
	}
	var mu sync.Mutex
	m := make(map[string]int64, len(names))
	i, j := 0, 0
	ours := func(n int) {
		for range n {
			if _, err := ctr.Increment(ctx, names[i%len(names)], 1); err != nil {
				panic(err)
			}
			i++
		}
	}
	ref := func(n int) {
		for range n {
			mu.Lock()
			m[names[j%len(names)]]++
			mu.Unlock()
			j++
		}
	}
	l := ratioLine(c.Compare("counter-inc", Pair{Ours: ours, Ref: ref}), 1.2, nil)
	l.Notes += "; one goroutine, 1,000 known keys in turn, default options (flusher running)"
	return l, nil
}

// never is a tick channel that never fires: the flusher waits for Flush.
var never = make(chan time.Time)

func rowCounterFlush(c *Config) (Line, error) {
	n := c.n(100_000, 10_000)
	names := counterNames(n)
	fixed := time.Now()
	clock := func() time.Time { return fixed }
	var calls string
	var firsts []float64      // the first flush of each round: every key new in KV
	var prev *counter.Counter // closed by the next round, outside the clock
	defer func() {
		if prev != nil {
			closeAll(prev)
		}
	}()
	incrementAll := func(ctr *counter.Counter) error {
		for _, name := range names {
			if _, err := ctr.Increment(ctx, name, 1); err != nil {
				return err
			}
		}
		return nil
	}
	// The steady state a flusher sees every interval: counters that KV
	// already holds, each incremented since the last flush.
	ours := func() (Prepared, error) {
		if prev != nil {
			closeAll(prev)
			prev = nil
		}
		counted := newBulkCount(memory.New(memory.Options{}))
		ctr, err := counter.New(counted, counter.Options{Logger: quiet, Tick: never, Clock: clock})
		if err != nil {
			return nil, err
		}
		prev = ctr
		if err := incrementAll(ctr); err != nil {
			return nil, err
		}
		runtime.GC()
		t0 := c.clock()
		if err := ctr.Flush(ctx); err != nil {
			return nil, err
		}
		firsts = append(firsts, float64(c.clock()-t0))
		if err := incrementAll(ctr); err != nil {
			return nil, err
		}
		before := counted.String()
		return func() error {
			err := ctr.Flush(ctx)
			calls = "before the timed flush " + before + "; after it " + counted.String()
			if err == nil && counted.maxPut > kv.MaxBulkWrite {
				err = fmt.Errorf("a bulk write of %d pairs", counted.maxPut)
			}
			return err
		}, nil
	}
	ref := func() (Prepared, error) {
		ns := memory.New(memory.Options{})
		pairs := make([]kv.Pair, n)
		for i, name := range names {
			pairs[i] = kv.Pair{Key: counter.DefaultPrefix + name, Value: []byte("1")}
		}
		putAll := func() error {
			for lo := 0; lo < n; lo += kv.MaxBulkWrite {
				if err := ns.PutBulk(ctx, pairs[lo:min(lo+kv.MaxBulkWrite, n)]); err != nil {
					return err
				}
			}
			return nil
		}
		return putAll, putAll() // the keys exist, as the flush's do
	}
	o, r, rounds, err := c.OneShot("counter-flush", ours, ref, 5*time.Second)
	if err != nil {
		return Line{}, err
	}
	limit := 200 * time.Millisecond
	return Line{
		Ours: fmtNs(float64(o)), Ref: fmtNs(float64(r)) + " (PutBulk by 10,000)",
		Ratio: fmt.Sprintf("%.2f×", float64(o)/float64(r)), Pass: o <= limit, Judged: true,
		Notes: fmt.Sprintf("Flush of %d dirty keys that KV already holds (each incremented once since the last flush), kv/memory: %s per key; the first flush, every key new: %s; %s; median of %d rounds",
			n, fmtNs(float64(o)/float64(n)), fmtNs(median(firsts)), calls, rounds),
	}, nil
}

func rowCounterMem(c *Config) (Line, error) {
	n := c.n(100_000, 1000)
	names := counterNames(n)
	var ctr *counter.Counter
	defer func() {
		if ctr != nil {
			closeAll(ctr)
		}
	}()
	per, err := HeapPerEntry(n, func(int) (any, error) {
		var err error
		if ctr, err = counter.New(discard{}, counter.Options{Logger: quiet, Tick: never}); err != nil {
			return nil, err
		}
		for _, name := range names {
			if _, err := ctr.Increment(ctx, name, 1); err != nil {
				return nil, err
			}
		}
		return ctr, nil
	})
	if err != nil {
		return Line{}, err
	}
	return Line{
		Ours: fmtBytes(per) + "/key", Ref: "-", Ratio: "-",
		Notes: fmt.Sprintf("live heap of a Counter per key with a pending increment (key names page:N not counted), %d keys, over a namespace that keeps nothing", n),
	}, nil
}
