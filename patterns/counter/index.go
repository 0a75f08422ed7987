package counter

import (
	"sync"
	"sync/atomic"
)

// index maps counter names to their entries. It is read-mostly: the known
// names live in an immutable map published through an atomic pointer, so an
// Increment of a known counter costs one map lookup and its own entry's
// lock, and Increments of different counters share no lock at all. New
// names go to dirty under mu, a copy of the published map plus the new
// entries, which replaces the published map once it has been looked up in
// vain about as many times as it has entries (as sync.Map did before Go
// 1.24), so that the copies cost O(1) per new name amortized.
type index struct {
	read   atomic.Pointer[map[string]*entry]
	mu     sync.Mutex
	dirty  map[string]*entry // nil, or every entry of read and the new ones
	misses int
}

func (x *index) init() {
	m := map[string]*entry{}
	x.read.Store(&m)
}

// get returns the entry of name, creating it if there is none. The entry
// may have been evicted (entry.dead) by the time the caller locks it: the
// caller then calls get again.
func (x *index) get(name string) *entry {
	if e := (*x.read.Load())[name]; e != nil && !e.dead.Load() {
		return e
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if e := (*x.read.Load())[name]; e != nil && !e.dead.Load() {
		return e // published meanwhile
	}
	if x.dirty == nil {
		read := *x.read.Load()
		x.dirty = make(map[string]*entry, len(read)+1)
		for k, e := range read {
			if !e.dead.Load() {
				x.dirty[k] = e
			}
		}
	}
	e := x.dirty[name]
	if e == nil || e.dead.Load() {
		e = &entry{}
		x.dirty[name] = e
	}
	if x.misses++; x.misses >= len(x.dirty) {
		x.publishLocked()
	}
	return e
}

// publishLocked makes dirty the published map. x.mu is held.
func (x *index) publishLocked() {
	if m := x.dirty; m != nil {
		x.read.Store(&m)
		x.dirty, x.misses = nil, 0
	}
}

// snapshot returns every entry, in a map the caller must not change.
// Entries added after it are not in it.
func (x *index) snapshot() map[string]*entry {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.publishLocked()
	return *x.read.Load()
}

// prune drops the dead entries from the index.
func (x *index) prune() {
	x.mu.Lock()
	defer x.mu.Unlock()
	src := x.dirty
	if src == nil {
		src = *x.read.Load()
	}
	m := make(map[string]*entry, len(src))
	for k, e := range src {
		if !e.dead.Load() {
			m[k] = e
		}
	}
	x.read.Store(&m)
	x.dirty, x.misses = nil, 0
}
