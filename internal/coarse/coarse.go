// Package coarse is a cheap wall clock for hot read paths. On this kind of
// machine time.Now costs about 50 ns, more than a whole cache hit should; a
// cache that checks expiry on every hit reads Now here instead, which is an
// atomic load.
//
// A goroutine refreshes the time every Resolution while reads keep coming,
// and stops by itself after Idle without reads; the next read starts it
// again. So the clock needs no Close, never outlives its use by more than
// Idle, and lags the real time by about Resolution (more when the machine
// is too busy to run the goroutine on time).
package coarse

import (
	"sync/atomic"
	"time"
)

const (
	// Resolution is how often the time is refreshed while in use.
	Resolution = time.Millisecond
	// Idle is how long the refreshing goroutine lives without reads.
	Idle = 100 * time.Millisecond
)

// The clock's states. Only start moves it out of stopped, and only the
// refreshing goroutine moves it back, so at most one goroutine runs.
const (
	stopped  int32 = iota // no refreshing goroutine
	starting              // start is about to run one
	idle                  // running, no read since the last tick
	inUse                 // running, read since the last tick
)

var (
	now   atomic.Int64 // Unix nanoseconds, as last read
	state atomic.Int32
)

// Now returns the current time in Unix nanoseconds, to within about
// Resolution. It is small enough to be inlined: while the clock is read
// more often than it ticks, a read is two atomic loads.
func Now() int64 {
	if state.Load() == inUse {
		return now.Load()
	}
	return slow()
}

// slow is Now in any other state: it marks the clock used, or starts it.
func slow() int64 {
	switch s := state.Load(); s {
	case idle:
		state.CompareAndSwap(idle, inUse) // else the refresher stopped meanwhile, or another read marked it
		if state.Load() >= idle {
			return now.Load()
		}
	case inUse:
		return now.Load()
	}
	t := time.Now().UnixNano()
	if state.CompareAndSwap(stopped, starting) {
		now.Store(t)
		state.Store(inUse)
		go refresh()
	}
	return t
}

// running reports whether the refreshing goroutine runs (or is starting).
func running() bool { return state.Load() != stopped }

func refresh() {
	ticker := time.NewTicker(Resolution)
	defer ticker.Stop()
	ticks := 0
	for range ticker.C {
		now.Store(time.Now().UnixNano())
		if state.CompareAndSwap(inUse, idle) {
			ticks = 0
			continue
		}
		if ticks++; time.Duration(ticks)*Resolution >= Idle && state.CompareAndSwap(idle, stopped) {
			return
		}
	}
}
