package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvkit/kvkit/internal/coarse"
)

// respTier is the in-process tier of a ResponseCache: a map from key to
// stored response, bounded by bytes, with a deadline per entry.
//
// It is built for the cost of a hit when the tier holds many entries, where
// each separately allocated object a hit reads is a cache miss: a hit reads
// one map slot (keyed by the key's 64-bit hash, holding the entry and its
// deadline), the entry itself (which holds the key, compared in full), and
// the key's bytes. Nothing else: no lookup in another table, no recency
// list or frequency sketch to update (a general-purpose cache, otter,
// measured six cache misses per hit at 100,000 entries). Eviction is
// sampled second chance (CLOCK-like): a hit sets the entry's referenced
// bit, and the evictor takes, from a random point of the map, the first
// entry that is expired or not referenced since it was last looked at,
// clearing the bits it passes.
//
// Two keys with the same 64-bit hash cannot both be held: the newer
// replaces the older, which then reads as a miss (never as the other's
// response: a hit compares the whole key).
type respTier struct {
	shards [tierShards]tierShard
	seed   maphash.Seed
	max    int64
	weight atomic.Int64
	clock  func() time.Time // nil: internal/coarse
	next   atomic.Uint32    // shard where a cross-shard eviction starts
}

const tierShards = 16

type tierShard struct {
	mu sync.RWMutex
	m  map[uint64]tierSlot
	_  [64 - 32]byte // one shard per cache line: hits on different shards do not share one
}

type tierSlot struct {
	e   *respEntry
	exp int64 // Unix nanoseconds
}

// The tier keeps in each entry it holds (fields t* of respEntry) the key
// it is held under (set once), the weight it counted for it (under its
// shard's lock) and the referenced bit (atomic).

// heldAs reports whether e is held under key.
func (e *respEntry) heldAs(key string) bool {
	if e.tkn > 0 {
		return int(e.tkn) == len(key) && string(e.tkey[:e.tkn]) == key
	}
	return e.tlong == key
}

func (e *respEntry) heldAsBytes(key []byte) bool {
	if e.tkn > 0 {
		return int(e.tkn) == len(key) && string(e.tkey[:e.tkn]) == string(key)
	}
	return e.tlong == string(key)
}

// held reports whether e was ever held under a key.
func (e *respEntry) held() bool { return e.tkn > 0 || e.tlong != "" }

func (e *respEntry) setKey(key string) {
	if len(key) > 0 && len(key) <= len(e.tkey) {
		e.tkn = uint8(copy(e.tkey[:], key))
		return
	}
	e.tlong = key
}

func newRespTier(maxBytes uint64, clock func() time.Time) *respTier {
	t := &respTier{seed: maphash.MakeSeed(), max: int64(min(maxBytes, 1<<62)), clock: clock}
	for i := range t.shards {
		t.shards[i].m = map[uint64]tierSlot{}
	}
	return t
}

// Now returns the time by the tier's clock, in Unix nanoseconds.
func (t *respTier) Now() int64 {
	if t.clock == nil {
		return coarse.Now()
	}
	return t.clock().UnixNano()
}

func (t *respTier) shard(h uint64) *tierShard { return &t.shards[h>>60] }

// Get returns the live entry for key.
func (t *respTier) Get(key string) (*respEntry, bool) {
	h := maphash.String(t.seed, key)
	sl, ok := t.slot(h)
	if !ok || !sl.e.heldAs(key) {
		return nil, false
	}
	return t.live(h, sl)
}

// getBytes is Get(string(key)), without making the string.
func (t *respTier) getBytes(key []byte) (*respEntry, bool) {
	h := maphash.Bytes(t.seed, key)
	sl, ok := t.slot(h)
	if !ok || !sl.e.heldAsBytes(key) {
		return nil, false
	}
	return t.live(h, sl)
}

// slot returns the slot of hash h. The key its entry is held under is set
// before the entry is stored and never changes, so callers compare it
// without the shard's lock.
func (t *respTier) slot(h uint64) (tierSlot, bool) {
	s := t.shard(h)
	s.mu.RLock()
	sl, ok := s.m[h]
	s.mu.RUnlock()
	return sl, ok
}

// live returns the entry of slot sl (of hash h) and marks it referenced,
// or drops it when it has expired.
func (t *respTier) live(h uint64, sl tierSlot) (*respEntry, bool) {
	if t.Now() >= sl.exp {
		s := t.shard(h)
		s.mu.Lock()
		if cur, ok := s.m[h]; ok && cur == sl {
			t.remove(s, h, sl.e)
		}
		s.mu.Unlock()
		return nil, false
	}
	if atomic.LoadUint32(&sl.e.tref) == 0 {
		atomic.StoreUint32(&sl.e.tref, 1)
	}
	return sl.e, true
}

// remove drops e, held under h, from s, whose lock is held.
func (t *respTier) remove(s *tierShard, h uint64, e *respEntry) {
	delete(s.m, h)
	t.weight.Add(-int64(e.tw))
}

// Set stores e for key for ttl; a ttl <= 0 removes key instead. An entry
// is held under one key only: one already held under another key, or
// heavier than the whole tier, is not stored (and key's old entry goes).
func (t *respTier) Set(key string, e *respEntry, ttl time.Duration, weight uint32) {
	h := maphash.String(t.seed, key)
	s := t.shard(h)
	s.mu.Lock()
	if old, ok := s.m[h]; ok {
		t.remove(s, h, old.e)
	}
	if ttl <= 0 || int64(weight) > t.max || key == "" || (e.held() && !e.heldAs(key)) {
		s.mu.Unlock()
		return
	}
	if !e.held() {
		e.setKey(key)
	}
	e.tw = weight
	s.m[h] = tierSlot{e: e, exp: t.Now() + int64(ttl)}
	over := t.weight.Add(int64(weight)) > t.max
	if over {
		t.evict(s, h)
	}
	s.mu.Unlock()
	if over && t.weight.Load() > t.max {
		t.evictOthers(s)
	}
}

// evict removes entries of s (locked) other than the one under keep until
// the tier is within its bound or s has no other entry.
func (t *respTier) evict(s *tierShard, keep uint64) {
	now := t.Now()
	for t.weight.Load() > t.max && len(s.m) > 1 {
		t.evictOne(s, keep, now)
	}
}

// evictOne removes one entry of s (locked), other than keep's: the first
// expired or unreferenced one from a random point, after at most
// evictScan referenced ones (their bits cleared); else the first seen.
func (t *respTier) evictOne(s *tierShard, keep uint64, now int64) {
	const evictScan = 16
	var first uint64
	var firstE *respEntry
	n := 0
	for h, sl := range s.m {
		if h == keep {
			continue
		}
		if now >= sl.exp || atomic.LoadUint32(&sl.e.tref) == 0 {
			t.remove(s, h, sl.e)
			return
		}
		atomic.StoreUint32(&sl.e.tref, 0)
		if firstE == nil {
			first, firstE = h, sl.e
		}
		if n++; n >= evictScan {
			break
		}
	}
	if firstE != nil {
		t.remove(s, first, firstE)
	}
}

// evictOthers evicts from the other shards, in turn, until the tier is
// within its bound.
func (t *respTier) evictOthers(from *tierShard) {
	start := int(t.next.Add(1))
	for i := range tierShards {
		if t.weight.Load() <= t.max {
			return
		}
		s := &t.shards[(start+i)%tierShards]
		if s == from {
			continue
		}
		s.mu.Lock()
		t.evict(s, 0)
		if len(s.m) == 1 && t.weight.Load() > t.max {
			for h, sl := range s.m {
				t.remove(s, h, sl.e)
			}
		}
		s.mu.Unlock()
	}
}

// Delete removes key.
func (t *respTier) Delete(key string) {
	h := maphash.String(t.seed, key)
	s := t.shard(h)
	s.mu.Lock()
	if sl, ok := s.m[h]; ok && sl.e.heldAs(key) {
		t.remove(s, h, sl.e)
	}
	s.mu.Unlock()
}

// Clear removes every entry.
func (t *respTier) Clear() {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for h, sl := range s.m {
			t.remove(s, h, sl.e)
		}
		s.mu.Unlock()
	}
}

// Len returns the number of entries.
func (t *respTier) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
