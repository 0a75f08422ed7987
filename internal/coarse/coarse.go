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

var (
	now     atomic.Int64 // Unix nanoseconds, as last read
	used    atomic.Bool  // a read happened since the last tick
	running atomic.Bool  // the refreshing goroutine is alive
)

// Now returns the current time in Unix nanoseconds, to within about
// Resolution.
func Now() int64 {
	if running.Load() {
		if !used.Load() {
			used.Store(true)
		}
		return now.Load()
	}
	t := time.Now().UnixNano()
	if running.CompareAndSwap(false, true) {
		now.Store(t)
		used.Store(true)
		go refresh()
	}
	return t
}

func refresh() {
	ticker := time.NewTicker(Resolution)
	defer ticker.Stop()
	idle := 0
	for range ticker.C {
		now.Store(time.Now().UnixNano())
		if used.Swap(false) {
			idle = 0
			continue
		}
		if idle++; time.Duration(idle)*Resolution >= Idle {
			running.Store(false)
			return
		}
	}
}
