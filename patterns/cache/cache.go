package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvkit/kvkit/internal/coarse"
	"github.com/kvkit/kvkit/internal/lcache"
	"github.com/kvkit/kvkit/kv"
)

// Loader computes the value for a key on a cache miss. Every loader used
// with one key must compute the same value: concurrent callers of one key
// share a single load, so one caller may get the value another caller's
// loader produced.
type Loader[T any] interface {
	Load(ctx context.Context, key string) (T, error)
}

// LoaderFunc adapts a function to a Loader.
type LoaderFunc[T any] func(ctx context.Context, key string) (T, error)

// Load calls f.
func (f LoaderFunc[T]) Load(ctx context.Context, key string) (T, error) { return f(ctx, key) }

// ErrLoaderPanic is what a panicking loader becomes: every caller waiting on
// that load gets a *PanicError that unwraps to it, and the process goes on.
const ErrLoaderPanic cacheError = "cache: loader panicked"

type cacheError string

func (e cacheError) Error() string { return string(e) }

// PanicError reports a loader that panicked.
type PanicError struct {
	Value any    // what the loader panicked with
	Stack []byte // the loader's stack when it panicked
}

func (e *PanicError) Error() string { return fmt.Sprintf("cache: loader panicked: %v", e.Value) }

// Unwrap returns ErrLoaderPanic.
func (e *PanicError) Unwrap() error { return ErrLoaderPanic }

// Options configures a Cache. The zero value means every default.
type Options struct {
	// Prefix is prepended to every key in KV. Default: "" (none).
	Prefix string
	// TTL is how long a loaded value is fresh. Default: 5 minutes.
	TTL time.Duration
	// Jitter shortens each entry's TTL by a random fraction in [0, Jitter),
	// so keys loaded together do not expire together. Must be in [0, 1).
	// Default: 0 (no jitter).
	Jitter float64
	// StaleWhileRevalidate is how long after an entry's TTL its stale value
	// is still served at once while one background refresh runs.
	// Default: 0 (off).
	StaleWhileRevalidate time.Duration
	// StaleIfError is how long after an entry's TTL (and its
	// stale-while-revalidate window) its stale value is served when a load
	// fails. Default: 0 (off).
	StaleIfError time.Duration
	// NegativeTTL, when set, remembers "not found" (a loader error that
	// wraps kv.ErrNotFound) for this long. Default: 0 (not-found is not
	// cached).
	NegativeTTL time.Duration
	// LoadTimeout bounds one shared load (and its KV calls). The load runs
	// on a context detached from the callers', so one caller giving up
	// never cancels it for the others. Default: 30 seconds.
	LoadTimeout time.Duration
	// RefreshTimeout bounds one background refresh. Default: LoadTimeout.
	RefreshTimeout time.Duration
	// LocalMaxEntries bounds the in-process tier by entries.
	// Default: 10,000 (when LocalMaxBytes is not set either).
	LocalMaxEntries int
	// LocalMaxBytes bounds the in-process tier by the bytes of the stored
	// values instead of by entries. Default: 0 (bound by entries).
	LocalMaxBytes uint64
	// LocalTTL caps how long an entry stays in the in-process tier before
	// it is read from KV again (so other processes' writes show up).
	// Default: 0 = the entry's whole life (TTL plus the stale windows).
	LocalTTL time.Duration
	// Codec turns values into bytes. Default: kv.JSON.
	Codec kv.Codec
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
	// Logger receives KV and refresh failures, at most one record per kind
	// a minute. Default: slog.Default().
	Logger *slog.Logger
}

// Stats counts what a Cache did. Every field only grows.
type Stats struct {
	Hits        int64 // fresh values served (from either tier)
	LocalHits   int64 // of Hits, served by the in-process tier with no KV call
	Misses      int64 // gets that found nothing fresh and had to wait for a load
	Loads       int64 // loader calls (background refreshes included)
	LoadErrors  int64 // loader calls that failed (panics included)
	Stale       int64 // stale values served (while revalidating or on error)
	Negative    int64 // cached "not found" answers served
	KVErrors    int64 // KV calls that failed (the cache then fails open)
	Refreshes   int64 // background refreshes started
	Invalidates int64 // Invalidate calls
}

// Cache is a read-through cache of T over a KV namespace with an in-process
// tier. It is safe for concurrent use. Close it to wait for background
// refreshes.
type Cache[T any] struct {
	ns    kv.Namespace
	o     Options
	codec kv.Codec
	local *lcache.Cache[string, *entry[T]]
	// coarse: no Clock was injected, so the local tier's clock is
	// internal/coarse's, which Get then reads without a call.
	coarse bool
	log    *quietLog
	stats  counters
	bg     *refresher

	mu      sync.Mutex
	flights map[string]*flight[T] // key → the load its misses share
}

type counters struct {
	// hits counts the fresh values served through KV or a load; a local
	// hit counts only in localHits (one atomic add per hit), and a local
	// "not found" in localHits and localNeg as well, so that Hits is
	// hits + localHits - localNeg.
	hits, localHits, localNeg, misses, loads, loadErrors, stale, negative, kvErrors, refreshes, invalidates atomic.Int64
}

// entry is one cached value with its freshness, in both tiers. Times are
// Unix nanoseconds by the local tier's clock (lcache.Cache.Now).
type entry[T any] struct {
	v        T
	negative bool
	fresh    int64 // served as fresh before this
	stale    int64 // served stale while revalidating before this
	errUntil int64 // served stale when loads fail before this
	size     int   // bytes in KV, for LocalMaxBytes
}

// flight is one shared load of a key: every miss of the key while it runs
// waits for done and then reads res and err, which are set before done is
// closed and never after. It is singleflight's call, made here because a
// waiter must be able to leave when its context ends: singleflight.Do cannot
// be left, and DoChan allocates a channel per caller and starts a goroutine
// per load. With 64 callers of a cold key, kvkit's earlier version on
// DoChan made 5.1 allocations per caller; this one makes 0.3, and
// singleflight.Do alone 1.1 (bench/perf, row cache-cold64).
type flight[T any] struct {
	done chan struct{}
	res  result[T]
	err  error
}

// New returns a read-through cache over ns. It returns an error wrapping
// kv.ErrInvalidOptions for unusable options.
func New[T any](ns kv.Namespace, o Options) (*Cache[T], error) {
	if ns == nil {
		return nil, fmt.Errorf("%w: cache: nil namespace", kv.ErrInvalidOptions)
	}
	switch {
	case o.TTL < 0, o.StaleWhileRevalidate < 0, o.StaleIfError < 0, o.NegativeTTL < 0,
		o.LoadTimeout < 0, o.RefreshTimeout < 0, o.LocalTTL < 0, o.LocalMaxEntries < 0:
		return nil, fmt.Errorf("%w: cache: negative duration or size", kv.ErrInvalidOptions)
	case o.Jitter < 0 || o.Jitter >= 1:
		return nil, fmt.Errorf("%w: cache: Jitter %v is not in [0, 1)", kv.ErrInvalidOptions, o.Jitter)
	case o.LocalMaxBytes > 0 && o.LocalMaxEntries > 0:
		return nil, fmt.Errorf("%w: cache: set LocalMaxEntries or LocalMaxBytes, not both", kv.ErrInvalidOptions)
	}
	if len(o.Prefix) >= kv.MaxKeySize {
		return nil, fmt.Errorf("%w: cache: prefix is %d bytes", kv.ErrInvalidOptions, len(o.Prefix))
	}
	if o.TTL == 0 {
		o.TTL = 5 * time.Minute
	}
	if o.LoadTimeout == 0 {
		o.LoadTimeout = 30 * time.Second
	}
	if o.RefreshTimeout == 0 {
		o.RefreshTimeout = o.LoadTimeout
	}
	if o.Codec == nil {
		o.Codec = kv.JSON
	}
	// The local tier gets the clock only when one was injected: left nil,
	// lcache uses its own cheapest clock (time.Now costs ~50 ns here), and
	// every time the cache compares comes from it (lcache.Cache.Now).
	lo := lcache.Options[string, *entry[T]]{MaxEntries: o.LocalMaxEntries, Clock: o.Clock}
	useCoarse := o.Clock == nil
	if o.Clock == nil {
		o.Clock = coarseNow
	}
	if o.LocalMaxBytes > 0 {
		lo.MaxWeight = o.LocalMaxBytes
		lo.Weigher = func(k string, e *entry[T]) uint32 { return uint32(len(k) + e.size + 64) }
	}
	local, err := lcache.New(lo)
	if err != nil {
		return nil, fmt.Errorf("%w: cache: %v", kv.ErrInvalidOptions, err)
	}
	return &Cache[T]{
		ns: ns, o: o, codec: o.Codec, local: local, coarse: useCoarse,
		log:     newQuietLog(o.Logger, o.Clock),
		bg:      newRefresher(o.RefreshTimeout),
		flights: map[string]*flight[T]{},
	}, nil
}

// Stats returns a snapshot of the counters.
func (c *Cache[T]) Stats() Stats {
	s := &c.stats
	return Stats{
		Hits: s.hits.Load() + s.localHits.Load() - s.localNeg.Load(), LocalHits: s.localHits.Load(), Misses: s.misses.Load(),
		Loads: s.loads.Load(), LoadErrors: s.loadErrors.Load(), Stale: s.stale.Load(),
		Negative: s.negative.Load(), KVErrors: s.kvErrors.Load(), Refreshes: s.refreshes.Load(),
		Invalidates: s.invalidates.Load(),
	}
}

// Get returns the value for key: from the in-process tier with no KV call
// when it is fresh there, else from KV, else from l. Concurrent misses of
// one key share one KV read, one load and one KV write, and every waiter
// gets the same value or error. A caller whose ctx ends stops waiting and
// gets ctx.Err() at once; the shared load goes on for the others, bounded by
// Options.LoadTimeout. Loader errors are returned and never cached, except
// "not found" (an error wrapping kv.ErrNotFound) when Options.NegativeTTL
// is set. A panicking loader becomes a *PanicError for every waiter.
func (c *Cache[T]) Get(ctx context.Context, key string, l Loader[T]) (T, error) {
	if l == nil || ctx.Err() != nil {
		return c.refuse(ctx, key, l)
	}
	// A key in the local tier was valid when it was stored (Get validates
	// before a load stores), so a hit skips the validation.
	var now int64
	if c.coarse {
		now = coarse.Now() // what c.local.Now reads, without the call
	} else {
		now = c.local.Now()
	}
	e, ok := c.local.GetAt(key, now)
	if ok && now < e.fresh && !e.negative {
		c.stats.localHits.Add(1)
		return e.v, nil
	}
	return c.notHot(ctx, key, l, e, ok, now)
}

// refuse is Get's answer for a nil loader or an ended ctx.
func (c *Cache[T]) refuse(ctx context.Context, key string, l Loader[T]) (T, error) {
	var zero T
	if err := c.validate(key); err != nil {
		return zero, err
	}
	if l == nil {
		return zero, fmt.Errorf("%w: cache: nil loader", kv.ErrInvalidOptions)
	}
	return zero, ctx.Err()
}

// notHot is Get for anything but a fresh local value: e, when ok, is the
// key's entry in the local tier at now.
func (c *Cache[T]) notHot(ctx context.Context, key string, l Loader[T], e *entry[T], ok bool, now int64) (T, error) {
	var old *entry[T]
	if ok {
		switch {
		case now < e.fresh: // a "not found"
			c.stats.localHits.Add(1)
			c.stats.localNeg.Add(1)
			return c.serve(key, e, false)
		case now < e.stale:
			c.startRefresh(ctx, key, l)
			return c.serve(key, e, true)
		}
		old = e
	}
	return c.miss(ctx, key, l, old)
}

// miss is Get past the local tier: old is its expired entry, if any.
func (c *Cache[T]) miss(ctx context.Context, key string, l Loader[T], old *entry[T]) (T, error) {
	var zero T
	if err := c.validate(key); err != nil {
		return zero, err
	}
	f, lead := c.join(key)
	if lead {
		if ctx.Done() == nil {
			// This caller cannot stop waiting: it runs the load itself,
			// with no goroutine to start.
			c.fly(ctx, key, l, old, f)
		} else {
			go c.fly(ctx, key, l, old, f)
		}
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	if f.err != nil {
		return zero, f.err
	}
	return c.serve(key, f.res.e, f.res.stale)
}

// validate returns Get's error for an unusable key.
func (c *Cache[T]) validate(key string) error {
	if err := kv.ValidateKey(c.o.Prefix + key); err != nil {
		return &kv.Error{Op: "cache get", Key: c.o.Prefix + key, Err: err}
	}
	return nil
}

// join returns the flight of key, starting one (lead true: the caller must
// run it with fly) when none is running.
func (c *Cache[T]) join(key string) (f *flight[T], lead bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f = c.flights[key]; f != nil {
		return f, false
	}
	f = &flight[T]{done: make(chan struct{})}
	c.flights[key] = f
	return f, true
}

// errFlightAborted is what the waiters of a load get when the load ended
// in a panic outside the loader (which fill turns into a *PanicError): the
// panic goes on, on the goroutine that ran the load.
var errFlightAborted = errors.New("cache: load aborted by a panic")

// fly runs the load of flight f, on a context detached from ctx and bounded
// by LoadTimeout, then releases its waiters.
func (c *Cache[T]) fly(ctx context.Context, key string, l Loader[T], old *entry[T], f *flight[T]) {
	f.err = errFlightAborted
	defer func() {
		c.mu.Lock()
		if c.flights[key] == f {
			delete(c.flights, key)
		}
		c.mu.Unlock()
		close(f.done)
	}()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LoadTimeout)
	defer cancel()
	f.res, f.err = c.fill(lctx, key, l, old, false)
}

type result[T any] struct {
	e     *entry[T]
	stale bool
}

// serve turns an entry into Get's result and counts it.
func (c *Cache[T]) serve(key string, e *entry[T], stale bool) (T, error) {
	switch {
	case e.negative:
		c.stats.negative.Add(1)
		var zero T
		return zero, &kv.Error{Op: "cache get", Key: c.o.Prefix + key, Err: kv.ErrNotFound}
	case stale:
		c.stats.stale.Add(1)
	default:
		c.stats.hits.Add(1)
	}
	return e.v, nil
}

// fill runs once per key at a time (in the key's flight): it reads
// KV unless force, and loads and stores on a miss. old is a stale entry to
// fall back on when the load fails.
func (c *Cache[T]) fill(ctx context.Context, key string, l Loader[T], old *entry[T], force bool) (result[T], error) {
	full := c.o.Prefix + key
	if !force {
		now := c.local.Now()
		if e, ok := c.local.GetAt(key, now); ok && now < e.fresh {
			return result[T]{e: e}, nil // filled by a flight that just ended
		}
		it, found, err := c.ns.Get(ctx, full, kv.GetOptions{})
		switch {
		case err != nil:
			c.stats.kvErrors.Add(1)
			c.log.error("kv-get", "cache: KV read failed; loading instead", err, full)
		case found:
			if e, ok := c.decode(it.Value); ok {
				now = c.local.Now()
				switch {
				case now < e.fresh:
					c.remember(key, e, now)
					return result[T]{e: e}, nil
				case now < e.stale:
					c.remember(key, e, now)
					c.startRefresh(ctx, key, l)
					return result[T]{e: e, stale: true}, nil
				case now < e.errUntil && (old == nil || e.errUntil > old.errUntil):
					old = e
				}
			}
		}
		c.stats.misses.Add(1)
	}
	v, err := c.load(ctx, key, l)
	now := c.local.Now()
	if err != nil {
		if errors.Is(err, kv.ErrNotFound) && c.o.NegativeTTL > 0 {
			e := &entry[T]{negative: true, fresh: now + int64(c.o.NegativeTTL)}
			e.stale, e.errUntil = e.fresh, e.fresh
			c.store(ctx, key, e, now)
			return result[T]{e: e}, err // this load's waiters get the loader's own error
		}
		if old != nil && now < old.errUntil && !old.negative {
			return result[T]{e: old, stale: true}, nil
		}
		return result[T]{}, err
	}
	ttl := c.o.TTL
	if c.o.Jitter > 0 {
		ttl -= time.Duration(rand.Float64() * c.o.Jitter * float64(ttl))
	}
	e := &entry[T]{v: v, fresh: now + int64(ttl)}
	e.stale = e.fresh + int64(c.o.StaleWhileRevalidate)
	e.errUntil = e.stale + int64(c.o.StaleIfError)
	c.store(ctx, key, e, now)
	return result[T]{e: e}, nil
}

// load calls the loader, turning a panic into a *PanicError.
func (c *Cache[T]) load(ctx context.Context, key string, l Loader[T]) (v T, err error) {
	c.stats.loads.Add(1)
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
		if err != nil {
			c.stats.loadErrors.Add(1)
		}
	}()
	return l.Load(ctx, key)
}

// Entry layout in KV: a 26-byte header, then the codec's bytes.
//
//	[0] 'K'  [1] version 1  [2..9] fresh  [10..17] stale  [18..25] errUntil
//
// Times are Unix milliseconds, big-endian; negative entries have version 2
// and no value bytes.
const headerSize = 26

func (c *Cache[T]) encode(e *entry[T]) ([]byte, error) {
	var body []byte
	ver := byte(1)
	if e.negative {
		ver = 2
	} else {
		b, err := c.codec.Marshal(e.v)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", kv.ErrCodec, err)
		}
		body = b
	}
	buf := make([]byte, headerSize, headerSize+len(body))
	buf[0], buf[1] = 'K', ver
	binary.BigEndian.PutUint64(buf[2:], uint64(time.Unix(0, e.fresh).UnixMilli()))
	binary.BigEndian.PutUint64(buf[10:], uint64(time.Unix(0, e.stale).UnixMilli()))
	binary.BigEndian.PutUint64(buf[18:], uint64(time.Unix(0, e.errUntil).UnixMilli()))
	return append(buf, body...), nil
}

func (c *Cache[T]) decode(b []byte) (*entry[T], bool) {
	if len(b) < headerSize || b[0] != 'K' || (b[1] != 1 && b[1] != 2) {
		return nil, false
	}
	e := &entry[T]{
		negative: b[1] == 2,
		fresh:    time.UnixMilli(int64(binary.BigEndian.Uint64(b[2:]))).UnixNano(),
		stale:    time.UnixMilli(int64(binary.BigEndian.Uint64(b[10:]))).UnixNano(),
		errUntil: time.UnixMilli(int64(binary.BigEndian.Uint64(b[18:]))).UnixNano(),
		size:     len(b),
	}
	if !e.negative {
		if err := c.codec.Unmarshal(b[headerSize:], &e.v); err != nil {
			return nil, false
		}
	}
	return e, true
}

// kvTTL is KV's own expiry for an entry: its whole life (TTL plus the stale
// windows), in whole seconds, never under kv.MinTTL.
func kvTTL(end, now time.Time) time.Duration {
	d := end.Sub(now)
	d = (d + time.Second - 1).Truncate(time.Second)
	return max(d, kv.MinTTL)
}

// store writes e to KV (failing open) and to the local tier.
func (c *Cache[T]) store(ctx context.Context, key string, e *entry[T], now int64) {
	full := c.o.Prefix + key
	b, err := c.encode(e)
	if err != nil {
		c.log.error("encode", "cache: cannot encode value; not stored in KV", err, full)
	} else {
		e.size = len(b)
		if err := c.ns.Put(ctx, full, b, kv.PutOptions{TTL: kvTTL(time.Unix(0, e.errUntil), time.Unix(0, now))}); err != nil {
			c.stats.kvErrors.Add(1)
			c.log.error("kv-put", "cache: KV write failed; value kept in memory only", err, full)
		}
	}
	c.remember(key, e, now)
}

func (c *Cache[T]) remember(key string, e *entry[T], now int64) {
	ttl := time.Duration(e.errUntil - now)
	if c.o.LocalTTL > 0 {
		ttl = min(ttl, c.o.LocalTTL)
	}
	c.local.Set(key, e, ttl)
}

// startRefresh starts one background refresh of key unless one is running
// or the cache is closed. The refresh keeps ctx's values but not its
// cancellation, is bounded by RefreshTimeout, and is cancelled by Close.
func (c *Cache[T]) startRefresh(ctx context.Context, key string, l Loader[T]) {
	started := c.bg.start(ctx, key, func(rctx context.Context) {
		// Not through a flight: a refresh may start inside a flight of the
		// same key (a stale KV read), and joining it would refresh nothing.
		// The refresher already keeps it to one per key.
		if _, err := c.fill(rctx, key, l, nil, true); err != nil {
			c.log.error("refresh", "cache: background refresh failed; serving stale", err, c.o.Prefix+key)
		}
	})
	if started {
		c.stats.refreshes.Add(1)
	}
}

// Invalidate removes key from both tiers, so the next Get loads it again. A
// load already running for key is not waited for, and later Gets do not join
// it.
func (c *Cache[T]) Invalidate(ctx context.Context, key string) error {
	full := c.o.Prefix + key
	if err := kv.ValidateKey(full); err != nil {
		return &kv.Error{Op: "cache invalidate", Key: full, Err: err}
	}
	c.stats.invalidates.Add(1)
	c.mu.Lock()
	delete(c.flights, key) // the running load, if any, finishes for its own waiters only
	c.mu.Unlock()
	c.local.Delete(key)
	return c.ns.Delete(ctx, full)
}

// Close stops starting background refreshes, cancels the running ones and
// waits for them to end. Gets keep working after Close (stale values are
// then served without a refresh). It returns ctx.Err() if ctx ends first.
func (c *Cache[T]) Close(ctx context.Context) error {
	return c.bg.close(ctx)
}

// coarseNow is the default clock: internal/coarse's time, within ~1 ms.
func coarseNow() time.Time { return time.Unix(0, coarse.Now()) }
