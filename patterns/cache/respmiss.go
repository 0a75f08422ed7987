package cache

import (
	"hash/maphash"
	"sync"
	"time"
)

// missTable counts each path's misses of the current minute for
// MaxMissesPerPath. It is a fixed table (12 KB per ResponseCache, made on
// its first miss; not an allocation per path): missWays slots per set, chosen by the path's
// hash. A path new to its set takes an expired slot, else the one with the
// fewest misses, so a path that misses often keeps its count while a flood
// of distinct paths replaces only paths that missed rarely. Only misses
// touch it; hits never do.
type missTable struct {
	mu    sync.Mutex
	seed  maphash.Seed
	slots []missSlot
}

type missSlot struct {
	h     uint64 // the path's hash; 0: free
	start int64  // Unix nanoseconds of the first miss of its minute
	n     int64  // misses since start
}

const (
	missWays = 4
	missSets = 128
)

func (t *missTable) init() { t.seed = maphash.MakeSeed() }

// admit counts a miss of path at now and reports whether it is within max
// this minute.
func (t *missTable) admit(path string, now int64, max int) bool {
	h := maphash.String(t.seed, path) | 1
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.slots == nil {
		t.slots = make([]missSlot, missWays*missSets)
	}
	set := t.slots[(h>>1)%missSets*missWays:][:missWays]
	var s *missSlot
	for i := range set {
		if set[i].h == h {
			s = &set[i]
			break
		}
	}
	if s == nil || now-s.start >= int64(time.Minute) {
		if s == nil {
			s = &set[0]
			for i := range set {
				c := &set[i]
				if c.h == 0 || now-c.start >= int64(time.Minute) {
					s = c
					break
				}
				if c.n < s.n {
					s = c
				}
			}
		}
		*s = missSlot{h: h, start: now}
	}
	s.n++
	return s.n <= int64(max)
}
