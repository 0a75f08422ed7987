// Package lcache is the bounded in-process cache with per-entry expiry that
// kvkit's read cache (kv.Store) and its read-through cache (patterns/cache)
// share. It is a thin layer over github.com/maypok86/otter/v2 that fixes the
// settings both need: an injectable clock, per-entry TTLs, and no background
// goroutines (maintenance runs on the calling goroutine and expired entries
// go when read or evicted), so a cache never needs closing.
package lcache

import (
	"time"

	"github.com/maypok86/otter/v2"
)

// Options configures a Cache.
type Options[K comparable, V any] struct {
	// MaxEntries bounds the number of entries. Default: 10,000 (used when
	// neither MaxEntries nor MaxWeight is set).
	MaxEntries int
	// MaxWeight bounds the total weight (e.g. bytes) of the entries; it
	// requires Weigher and excludes MaxEntries.
	MaxWeight uint64
	// Weigher returns an entry's weight for MaxWeight.
	Weigher func(key K, value V) uint32
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
}

// Cache is a bounded map with per-entry expiry, safe for concurrent use.
type Cache[K comparable, V any] struct {
	c *otter.Cache[K, entry[V]]
}

type entry[V any] struct {
	v   V
	ttl time.Duration
}

type clock struct{ now func() time.Time }

func (c clock) NowNano() int64                      { return c.now().UnixNano() }
func (c clock) Tick(time.Duration) <-chan time.Time { return nil } // no periodic goroutine

// New returns an empty cache. It returns an error for conflicting options.
func New[K comparable, V any](o Options[K, V]) (*Cache[K, V], error) {
	now := o.Clock
	if now == nil {
		now = time.Now
	}
	oo := &otter.Options[K, entry[V]]{
		Clock:    clock{now},
		Executor: func(fn func()) { fn() },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[K, entry[V]]) time.Duration {
			return e.Value.ttl
		}),
	}
	switch {
	case o.MaxWeight > 0:
		oo.MaximumWeight = o.MaxWeight
		if o.Weigher != nil {
			w := o.Weigher
			oo.Weigher = func(k K, e entry[V]) uint32 { return w(k, e.v) }
		}
	case o.MaxEntries > 0:
		oo.MaximumSize = o.MaxEntries
	default:
		oo.MaximumSize = 10_000
	}
	c, err := otter.New(oo)
	if err != nil {
		return nil, err
	}
	return &Cache[K, V]{c: c}, nil
}

// Get returns the live value for k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	e, ok := c.c.GetIfPresent(k)
	return e.v, ok
}

// Set stores v for k for ttl; a ttl <= 0 removes k instead.
func (c *Cache[K, V]) Set(k K, v V, ttl time.Duration) {
	if ttl <= 0 {
		c.c.Invalidate(k)
		return
	}
	c.c.Set(k, entry[V]{v: v, ttl: ttl})
}

// Delete removes k.
func (c *Cache[K, V]) Delete(k K) { c.c.Invalidate(k) }

// Clear removes every entry.
func (c *Cache[K, V]) Clear() { c.c.InvalidateAll() }

// Len returns the approximate number of entries.
func (c *Cache[K, V]) Len() int { return c.c.EstimatedSize() }
