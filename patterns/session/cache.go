package session

import (
	"hash/maphash"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvkit/kvkit/internal/lcache"
)

// DefaultCacheSize bounds the read cache when Options.CacheSize is 0.
const DefaultCacheSize = 10_000

// readCache is the optional in-process cache of session records
// (Options.CacheTTL). When T holds no references (only numbers, booleans,
// strings, and arrays and structs of them) it keeps the decoded record and
// a hit copies it: no decoding at all. Otherwise it keeps the record's
// stored JSON and every load decodes its own copy, so maps, slices and
// pointers inside T are never shared between requests (a handler that
// mutates them, against Session.Get's advice, harms only itself).
// BenchmarkLoadCached and BenchmarkLoadCachedBytes measure both.
//
// Writes go through two steps around the KV call, begin and end, under
// the key's stripe lock; each moves the stripe's generation. A read stores
// what it fetched only if the generation did not move since before its KV
// call, and a write stores what it wrote only if no other write or read
// fill touched the stripe while it ran; otherwise the entry is dropped and
// the next load reads KV. So a read that raced a write, or two writes that
// raced each other (whose order in KV is unknown), can never leave an older
// record cached.
type readCache[T any] struct {
	ttl     time.Duration
	decoded bool // cache *record[T] rather than JSON
	c       *lcache.Cache[string, cacheEntry[T]]
	seed    maphash.Seed
	stripes [64]cacheStripe
}

type cacheStripe struct {
	mu  sync.Mutex
	gen atomic.Uint64 // written under mu, read without it
}

// cacheEntry is a record, as JSON (value) or decoded (rec, never changed
// once cached), or neither for a known absent record (negative caching).
type cacheEntry[T any] struct {
	value []byte
	rec   *record[T]
}

func (e cacheEntry[T]) found() bool { return e.value != nil || e.rec != nil }

func newReadCache[T any](ttl time.Duration, size int, clock func() time.Time) (*readCache[T], error) {
	if size == 0 {
		size = DefaultCacheSize
	}
	c, err := lcache.New(lcache.Options[string, cacheEntry[T]]{MaxEntries: size, Clock: clock})
	if err != nil {
		return nil, err
	}
	return &readCache[T]{ttl: ttl, c: c, seed: maphash.MakeSeed(), decoded: flat(reflect.TypeFor[T]())}, nil
}

// flat reports whether a value of type t holds no references, so that a
// copy of it shares nothing with the original.
func flat(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return flat(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !flat(t.Field(i).Type) {
				return false
			}
		}
		return true
	default:
		return false
	}
}

// entry returns what to cache for a record stored as value and decoded as
// rec (both nil: absent).
func (rc *readCache[T]) entry(value []byte, rec *record[T]) cacheEntry[T] {
	switch {
	case rec == nil && value == nil:
		return cacheEntry[T]{}
	case rc.decoded:
		cp := *rec
		return cacheEntry[T]{rec: &cp}
	default:
		return cacheEntry[T]{value: value}
	}
}

func (rc *readCache[T]) stripe(key string) *cacheStripe {
	return &rc.stripes[maphash.String(rc.seed, key)%uint64(len(rc.stripes))]
}

// get returns the cached entry of key.
func (rc *readCache[T]) get(key string) (cacheEntry[T], bool) { return rc.c.Get(key) }

// gen returns key's stripe generation, taken before a KV read.
func (rc *readCache[T]) gen(key string) uint64 { return rc.stripe(key).gen.Load() }

// fill stores what a KV read that started at generation gen found (value
// and rec nil: no record) for up to ttl, unless a write to the stripe
// happened since.
func (rc *readCache[T]) fill(key string, gen uint64, value []byte, rec *record[T], ttl time.Duration) {
	ttl = min(ttl, rc.ttl)
	if ttl <= 0 {
		return
	}
	st := rc.stripe(key)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gen.Load() != gen {
		return
	}
	// A fill moves the generation too, so that a write running meanwhile
	// does not then store its own value over a record it may not have
	// replaced (see end).
	st.gen.Add(1)
	rc.c.Set(key, rc.entry(value, rec), ttl)
}

// begin drops key before a write and returns the write's generation.
func (rc *readCache[T]) begin(key string) uint64 {
	st := rc.stripe(key)
	st.mu.Lock()
	defer st.mu.Unlock()
	rc.c.Delete(key)
	return st.gen.Add(1)
}

// end runs after the write that begin started. If it succeeded and nothing
// else touched the stripe meanwhile, key now caches the record written
// (value and rec nil: it was deleted) for up to ttl; otherwise key is
// dropped.
func (rc *readCache[T]) end(key string, gen uint64, ok bool, value []byte, rec *record[T], ttl time.Duration) {
	st := rc.stripe(key)
	st.mu.Lock()
	defer st.mu.Unlock()
	if ok && st.gen.Load() == gen {
		rc.c.Set(key, rc.entry(value, rec), min(ttl, rc.ttl)) // ttl <= 0 deletes
	} else {
		rc.c.Delete(key)
	}
	st.gen.Add(1)
}
