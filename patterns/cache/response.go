package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/kvkit/kvkit/internal/lcache"
	"github.com/kvkit/kvkit/kv"
)

// Origin produces a response, as the handler behind the cache. The cache
// calls it for the request being served (with a writer that records what
// it writes), and may call it again later, on another goroutine, to
// refresh a stale entry in the background: then the writer goes nowhere and
// the request is a GET clone on a context detached from the original
// request (IsRefresh reports true for it). An Origin that returns an error
// has its response served but not stored.
type Origin func(w http.ResponseWriter, r *http.Request) error

type refreshKey struct{}

// IsRefresh reports whether ctx is the context of a background refresh made
// by a ResponseCache (stale-while-revalidate), not of a client's request.
func IsRefresh(ctx context.Context) bool { return ctx.Value(refreshKey{}) != nil }

// ResponseOptions configures a ResponseCache. The zero value means every
// default.
type ResponseOptions struct {
	// Prefix is prepended to every KV key the cache writes.
	// Default: "http:".
	Prefix string
	// TTL is how long a response is fresh when it says nothing itself
	// (no s-maxage, max-age or Expires). Default: 5 minutes.
	TTL time.Duration
	// MaxTTL caps the freshness a response may ask for with s-maxage,
	// max-age or Expires. Default: 24 hours.
	MaxTTL time.Duration
	// StaleWhileRevalidate is how long after expiry a stale response is
	// served at once while one background refresh runs. A response's own
	// stale-while-revalidate directive wins. Default: 0 (off).
	StaleWhileRevalidate time.Duration
	// StaleIfError is how long after expiry (and the stale-while-revalidate
	// window) a stale response is served in place of a 5xx or a handler
	// error. A response's own stale-if-error directive wins. Default: 0 (off).
	StaleIfError time.Duration
	// MaxBodySize is the largest body stored; larger responses stream
	// through uncached. At most kv.MaxValueSize - 64 KiB. Default: 1 MiB.
	MaxBodySize int
	// Statuses are the status codes that may be stored. Default: the
	// heuristically cacheable codes of RFC 9110 (200, 203, 204, 300, 301,
	// 308, 404, 405, 410, 414, 501).
	Statuses []int
	// IncludeHost makes the request's Host part of the key (for servers
	// that answer for several hosts). Default: false (path and query only).
	IncludeHost bool
	// Name is the cache's name in the Cache-Status header (RFC 9211).
	// Default: "kvkit".
	Name string
	// XCache adds an X-Cache: HIT, MISS or STALE header. Default: false.
	XCache bool
	// TagHeader is the response header in which a handler lists the tags of
	// its response (comma or space separated). The cache strips it before
	// the response is sent. Default: "Cache-Tag".
	TagHeader string
	// TagCheckInterval is how long this process trusts a tag's purge
	// generation read from KV before reading it again; a purge made by
	// another process takes at most this long to show here. Purges made
	// through this ResponseCache show at once. Default: 10 seconds.
	TagCheckInterval time.Duration
	// LocalMaxBytes bounds the in-process tier by bytes. Default: 64 MiB.
	LocalMaxBytes uint64
	// LocalTTL caps how long a response stays in the in-process tier before
	// it is read from KV again (so other processes' purges show up).
	// Default: 0 = the entry's whole life.
	LocalTTL time.Duration
	// RefreshTimeout bounds one background refresh, and every KV write.
	// Default: 30 seconds.
	RefreshTimeout time.Duration
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
	// Logger receives KV failures, at most one record per kind a minute.
	// Default: slog.Default().
	Logger *slog.Logger
}

// ResponseStats counts what a ResponseCache did. Every field only grows.
type ResponseStats struct {
	Hits      int64 // fresh responses served from the cache
	Stale     int64 // stale responses served (while revalidating or on error)
	Misses    int64 // requests forwarded to the handler
	Stored    int64 // responses stored
	Collapsed int64 // requests that waited for another request's handler call
	KVErrors  int64 // KV calls that failed (the cache then fails open)
	Refreshes int64 // background refreshes started
	Purges    int64 // PurgeURL and PurgeTag calls
}

// ResponseCache is an HTTP response cache over a KV namespace with an
// in-process tier, following the shared-cache rules of RFC 9111 that apply
// to a cache inside the server. The net/http and Echo middlewares of kvkit
// are thin adapters over Serve. It is safe for concurrent use; Close it to
// wait for background refreshes.
type ResponseCache struct {
	ns       kv.Namespace
	o        ResponseOptions
	now      func() time.Time
	local    *lcache.Cache[string, *respEntry]
	tagGens  *lcache.Cache[string, int64]
	statuses [600]bool
	log      *quietLog
	stats    respCounters
	tagReads singleflight.Group
	xHit     []string
	xMiss    []string
	xStale   []string
	lastGen  atomic.Int64

	mu      sync.Mutex
	flights map[string]*respFlight
	bg      *refresher
}

type respCounters struct {
	hits, stale, misses, stored, collapsed, kvErrors, refreshes, purges atomic.Int64
}

type respFlight struct {
	done   chan struct{}
	stored bool
}

// NewResponseCache returns a response cache over ns. It returns an error
// wrapping kv.ErrInvalidOptions for unusable options.
func NewResponseCache(ns kv.Namespace, o ResponseOptions) (*ResponseCache, error) {
	if ns == nil {
		return nil, fmt.Errorf("%w: cache: nil namespace", kv.ErrInvalidOptions)
	}
	switch {
	case o.TTL < 0, o.MaxTTL < 0, o.StaleWhileRevalidate < 0, o.StaleIfError < 0, o.MaxBodySize < 0,
		o.TagCheckInterval < 0, o.LocalTTL < 0, o.RefreshTimeout < 0:
		return nil, fmt.Errorf("%w: cache: negative duration or size", kv.ErrInvalidOptions)
	case o.MaxBodySize > kv.MaxValueSize-64<<10:
		return nil, fmt.Errorf("%w: cache: MaxBodySize %d is over KV's value limit less 64 KiB for headers", kv.ErrInvalidOptions, o.MaxBodySize)
	case len(o.Prefix) > 256:
		return nil, fmt.Errorf("%w: cache: prefix is %d bytes, at most 256", kv.ErrInvalidOptions, len(o.Prefix))
	}
	if o.Prefix == "" {
		o.Prefix = "http:"
	}
	if o.TTL == 0 {
		o.TTL = 5 * time.Minute
	}
	if o.MaxTTL == 0 {
		o.MaxTTL = 24 * time.Hour
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = 1 << 20
	}
	if o.Statuses == nil {
		o.Statuses = cacheableStatus
	}
	if o.Name == "" {
		o.Name = "kvkit"
	}
	if o.TagHeader == "" {
		o.TagHeader = "Cache-Tag"
	}
	o.TagHeader = http.CanonicalHeaderKey(o.TagHeader)
	if o.TagCheckInterval == 0 {
		o.TagCheckInterval = 10 * time.Second
	}
	if o.LocalMaxBytes == 0 {
		o.LocalMaxBytes = 64 << 20
	}
	if o.RefreshTimeout == 0 {
		o.RefreshTimeout = 30 * time.Second
	}
	localClock := o.Clock // nil: lcache's own cheapest clock
	if o.Clock == nil {
		o.Clock = coarseNow // time.Now costs ~50 ns here: one read per hit
	}
	c := &ResponseCache{
		ns: ns, o: o, now: o.Clock, log: newQuietLog(o.Logger, o.Clock),
		xHit: []string{"HIT"}, xMiss: []string{"MISS"}, xStale: []string{"STALE"},
		flights: map[string]*respFlight{}, bg: newRefresher(o.RefreshTimeout),
	}
	for _, s := range o.Statuses {
		if s < 100 || s > 599 {
			return nil, fmt.Errorf("%w: cache: status %d", kv.ErrInvalidOptions, s)
		}
		c.statuses[s] = true
	}
	var err error
	c.local, err = lcache.New(lcache.Options[string, *respEntry]{
		MaxWeight: o.LocalMaxBytes, Clock: localClock,
		Weigher: func(k string, e *respEntry) uint32 { return uint32(min(len(k)+len(e.body)+256, 1<<31)) },
	})
	if err != nil {
		return nil, fmt.Errorf("%w: cache: %v", kv.ErrInvalidOptions, err)
	}
	c.tagGens, err = lcache.New(lcache.Options[string, int64]{MaxEntries: 10_000, Clock: localClock})
	if err != nil {
		return nil, fmt.Errorf("%w: cache: %v", kv.ErrInvalidOptions, err)
	}
	return c, nil
}

// Stats returns a snapshot of the counters.
func (c *ResponseCache) Stats() ResponseStats {
	s := &c.stats
	return ResponseStats{
		Hits: s.hits.Load(), Stale: s.stale.Load(), Misses: s.misses.Load(), Stored: s.stored.Load(),
		Collapsed: s.collapsed.Load(), KVErrors: s.kvErrors.Load(), Refreshes: s.refreshes.Load(),
		Purges: s.purges.Load(),
	}
}

// Close stops starting background refreshes, cancels the running ones and
// waits for them to end. Serve keeps working after Close. It returns
// ctx.Err() if ctx ends first.
func (c *ResponseCache) Close(ctx context.Context) error {
	return c.bg.close(ctx)
}

// key is the method-independent cache key of a request: [host] + escaped
// path + "?" + the query with its parameters sorted by name.
func (c *ResponseCache) key(host string, u *url.URL) string {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery == "" && !c.o.IncludeHost {
		return path
	}
	var arr [256]byte
	b := arr[:0]
	if c.o.IncludeHost {
		b = append(b, host...)
	}
	return string(appendKey(b, path, u.RawQuery))
}

// Serve answers r from the cache or through next, storing what it may.
// Only GET and HEAD are cached (HEAD is answered from the GET entry and,
// on a miss, forwarded without storing); other methods go straight to next.
// Concurrent GETs of one cold URL call next once and share its response
// when it can be stored. Serve returns next's error (after serving the
// stale response instead, when stale-if-error applies) or, for a request
// that gave up waiting for another's response, its context's error.
func (c *ResponseCache) Serve(w http.ResponseWriter, r *http.Request, next Origin) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return next(w, r)
	}
	base := c.key(r.Host, r.URL)
	mode := forwardMode{store: r.Method == http.MethodGet, fwd: "miss"}
	if r.Method == http.MethodHead {
		mode.reason = "head"
	}
	if v := r.Header["Cache-Control"]; len(v) > 0 && parseCacheControl(v).noStore {
		mode.store, mode.reason = false, "request-no-store"
	}
	auth := len(r.Header["Authorization"]) > 0
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		now := c.now()
		e, key, marker := c.lookupLocal(base, r.Header)
		if e != nil && c.usable(ctx, e, auth) {
			switch {
			case now.Before(e.fresh):
				c.writeHit(w, r, e, now, false)
				return nil
			case now.Before(e.stale):
				c.writeHit(w, r, e, now, true)
				c.startRefresh(r, base, key, next)
				return nil
			case now.Before(e.errUntil):
				mode.candidate, mode.fwd = e, "stale"
			}
		}
		// Only requests whose response may be stored and shared lead or
		// join a flight.
		if !mode.store || auth || attempt >= 2 {
			return c.forward(w, r, next, base, marker, mode, nil)
		}
		c.mu.Lock()
		f, busy := c.flights[base]
		if !busy {
			f = &respFlight{done: make(chan struct{})}
			c.flights[base] = f
		}
		c.mu.Unlock()
		if !busy {
			return c.lead(w, r, next, base, marker, mode, f)
		}
		c.stats.collapsed.Add(1)
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !f.stored {
			// The leader's response could not be shared: run our own.
			return c.forward(w, r, next, base, marker, mode, nil)
		}
	}
}

// ServeFresh answers r from a fresh entry of the in-process tier, with no
// KV call and no handler, and reports whether it did. Serve does the same
// first; adapters call ServeFresh before Serve to skip their per-request
// setup on the hot path.
func (c *ResponseCache) ServeFresh(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	e, _, _ := c.lookupLocal(c.key(r.Host, r.URL), r.Header)
	if e == nil {
		return false
	}
	now := c.now()
	if !now.Before(e.fresh) || !c.usable(r.Context(), e, len(r.Header["Authorization"]) > 0) {
		return false
	}
	c.writeHit(w, r, e, now, false)
	return true
}

// lookupLocal finds r's entry in the in-process tier, following a Vary
// marker. It returns the entry (nil if absent), its key, and the marker.
func (c *ResponseCache) lookupLocal(base string, h http.Header) (*respEntry, string, *respEntry) {
	e, ok := c.local.Get(base)
	if !ok {
		return nil, base, nil
	}
	if !e.marker {
		return e, base, nil
	}
	key := variantKey(base, e, h)
	v, ok := c.local.Get(key)
	if !ok {
		return nil, key, e
	}
	return v, key, e
}

// lead serves a miss as the one request of its flight: it reads KV, and
// calls the handler when KV has nothing usable.
func (c *ResponseCache) lead(w http.ResponseWriter, r *http.Request, next Origin, base string, marker *respEntry, mode forwardMode, f *respFlight) error {
	released := false
	release := func() {
		if !released {
			released = true
			c.mu.Lock()
			delete(c.flights, base)
			c.mu.Unlock()
			close(f.done)
		}
	}
	defer release()
	ctx := r.Context()
	now := c.now()
	// A flight that ended between our local lookup and taking the lead has
	// filled the local tier: use it rather than read KV again.
	if e, _, _ := c.lookupLocal(base, r.Header); e != nil && now.Before(e.fresh) && c.usable(ctx, e, false) {
		f.stored = true
		release()
		c.writeHit(w, r, e, now, false)
		return nil
	}
	e, key, marker := c.lookupKV(ctx, base, r.Header, marker)
	now = c.now()
	if e != nil && c.usable(ctx, e, false) {
		switch {
		case now.Before(e.fresh):
			c.remember(key, e, now)
			f.stored = true
			release()
			c.writeHit(w, r, e, now, false)
			return nil
		case now.Before(e.stale):
			c.remember(key, e, now)
			f.stored = true
			release()
			c.writeHit(w, r, e, now, true)
			c.startRefresh(r, base, key, next)
			return nil
		case now.Before(e.errUntil) && (mode.candidate == nil || e.created.After(mode.candidate.created)):
			mode.candidate, mode.fwd = e, "stale"
		}
	}
	return c.forward(w, r, next, base, marker, mode, func() {
		f.stored = true
		release()
	})
}

// lookupKV reads r's entry from KV (the local tier first for a marker),
// following a Vary marker. KV failures are logged and read as a miss.
func (c *ResponseCache) lookupKV(ctx context.Context, base string, h http.Header, marker *respEntry) (*respEntry, string, *respEntry) {
	if marker == nil {
		e := c.kvGet(ctx, base)
		if e == nil || !e.marker {
			return e, base, nil
		}
		marker = e
		c.remember(base, marker, c.now())
	}
	key := variantKey(base, marker, h)
	if e, ok := c.local.Get(key); ok {
		return e, key, marker
	}
	return c.kvGet(ctx, key), key, marker
}

func (c *ResponseCache) kvGet(ctx context.Context, key string) *respEntry {
	full := kvKeyFor(c.o.Prefix, key)
	it, found, err := c.ns.Get(ctx, full, kv.GetOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return nil // the client went away: not a KV failure
		}
		c.stats.kvErrors.Add(1)
		c.log.error("kv-get", "cache: KV read failed; serving from the handler", err, full)
		return nil
	}
	if !found {
		return nil
	}
	e, err := decodeRespEntry(it.Value)
	if err != nil {
		c.log.error("decode", "cache: ignoring a malformed stored response", err, full)
		return nil
	}
	return e
}

func (c *ResponseCache) remember(key string, e *respEntry, now time.Time) {
	ttl := e.errUntil.Sub(now)
	if c.o.LocalTTL > 0 {
		ttl = min(ttl, c.o.LocalTTL)
	}
	c.local.Set(key, e, ttl)
}

// usable reports whether e may answer a request: one with Authorization
// only when the response allowed it, and only while none of its tags has
// been purged since it was stored.
func (c *ResponseCache) usable(ctx context.Context, e *respEntry, auth bool) bool {
	if auth && !e.authOK {
		return false
	}
	for _, t := range e.tags {
		if c.tagGen(ctx, t) >= e.gen {
			return false
		}
	}
	return true
}

func (c *ResponseCache) tagKey(tag string) string { return kvKeyFor(c.o.Prefix, "!tag/"+tag) }

// tagGen returns the purge generation of tag: from memory, or from KV at
// most once per TagCheckInterval. A KV failure reads as "never purged".
func (c *ResponseCache) tagGen(ctx context.Context, tag string) int64 {
	if g, ok := c.tagGens.Get(tag); ok {
		return g
	}
	v, _, _ := c.tagReads.Do(tag, func() (any, error) {
		full := c.tagKey(tag)
		var g int64
		it, found, err := c.ns.Get(ctx, full, kv.GetOptions{})
		switch {
		case err != nil:
			c.stats.kvErrors.Add(1)
			c.log.error("kv-get", "cache: KV read of a tag failed", err, full)
		case found:
			g, _ = strconv.ParseInt(string(it.Value), 10, 64)
		}
		c.tagGens.Set(tag, g, c.o.TagCheckInterval)
		return g, nil
	})
	return v.(int64)
}

// writeHit replays a stored response.
func (c *ResponseCache) writeHit(w http.ResponseWriter, r *http.Request, e *respEntry, now time.Time, stale bool) {
	h := w.Header()
	for _, sh := range e.header {
		h[sh.name] = sh.values[:len(sh.values):len(sh.values)]
	}
	// net/http computes Content-Length itself for a body that fits its
	// 2 KiB buffer; set it for larger bodies (no chunking) and for HEAD.
	if bodyAllowed(e.status) && (len(e.body) > 2048 || r.Method == http.MethodHead) {
		h["Content-Length"] = e.bodyLen[:1:1]
	}
	hh := c.hitHeaders(e, now)
	h["Age"] = hh.age[:1:1]
	if stale {
		c.stats.stale.Add(1)
		h["Cache-Status"] = []string{hh.status[0] + "; detail=stale-while-revalidate"}
		if c.o.XCache {
			h["X-Cache"] = c.xStale[:1:1]
		}
	} else {
		c.stats.hits.Add(1)
		h["Cache-Status"] = hh.status[:1:1]
		if c.o.XCache {
			h["X-Cache"] = c.xHit[:1:1]
		}
	}
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead && bodyAllowed(e.status) {
		_, _ = w.Write(e.body)
	}
}

// hitHeaders returns e's Age and Cache-Status values at now, made once per
// second per entry.
func (c *ResponseCache) hitHeaders(e *respEntry, now time.Time) *hitHeaders {
	sec := now.Unix()
	if hh := e.hit.Load(); hh != nil && hh.at == sec {
		return hh
	}
	// Whole seconds of freshness left, rounded up (a response stored this
	// instant shows its full TTL); negative when stale.
	ttl := e.fresh.Sub(now)
	secs := int64(ttl / time.Second)
	if ttl%time.Second > 0 {
		secs++
	} else if ttl%time.Second < 0 {
		secs--
	}
	hh := &hitHeaders{
		at:     sec,
		age:    []string{strconv.FormatInt(int64(max(now.Sub(e.created), 0)/time.Second), 10)},
		status: []string{c.o.Name + "; hit; ttl=" + strconv.FormatInt(secs, 10)},
	}
	e.hit.Store(hh)
	return hh
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// store keeps e (the response to r) in both tiers. Under a Vary marker the
// entry goes to its variant key and the marker to base. release runs once
// the local tier has it, before the KV writes.
func (c *ResponseCache) store(r *http.Request, base string, marker *respEntry, e *respEntry, release func()) {
	now := c.now()
	c.stats.stored.Add(1)
	key := base
	var putMarker *respEntry
	if len(e.vary) > 0 {
		if marker == nil || !slices.Equal(marker.vary, e.vary) || marker.errUntil.Before(e.errUntil) {
			m := &respEntry{marker: true, vary: e.vary, created: now, fresh: e.fresh, stale: e.stale, errUntil: e.errUntil}
			if marker != nil && slices.Equal(marker.vary, e.vary) {
				m.nonce = marker.nonce
			} else {
				var b [8]byte
				_, _ = rand.Read(b[:])
				m.nonce = hex.EncodeToString(b[:])
			}
			marker, putMarker = m, m
		}
		key = variantKey(base, marker, r.Header)
		c.remember(base, marker, now)
	}
	c.remember(key, e, now)
	if release != nil {
		release()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), c.o.RefreshTimeout)
	defer cancel()
	if putMarker != nil {
		c.kvPut(ctx, base, putMarker, now)
	}
	c.kvPut(ctx, key, e, now)
}

func (c *ResponseCache) kvPut(ctx context.Context, key string, e *respEntry, now time.Time) {
	full := kvKeyFor(c.o.Prefix, key)
	b, err := e.encode()
	if err == nil {
		e.size = len(b)
		err = c.ns.Put(ctx, full, b, kv.PutOptions{TTL: kvTTL(e.errUntil, now)})
	}
	if err != nil {
		c.stats.kvErrors.Add(1)
		c.log.error("kv-put", "cache: KV write failed; response kept in memory only", err, full)
	}
}

// startRefresh runs next in the background for a stale entry, once per key
// at a time, on a context detached from r and bounded by RefreshTimeout.
func (c *ResponseCache) startRefresh(r *http.Request, base, key string, next Origin) {
	// Cloned here, while r is the live request; the refresh gets its own
	// context below.
	r2 := r.Clone(context.WithValue(r.Context(), refreshKey{}, true))
	r2.Method = http.MethodGet
	r2.Body = http.NoBody
	started := c.bg.start(r2.Context(), key, func(ctx context.Context) {
		defer func() {
			if p := recover(); p != nil {
				c.log.error("refresh", "cache: handler panicked in a background refresh", fmt.Errorf("panic: %v", p), key)
			}
		}()
		r2 := r2.WithContext(ctx)
		_, marker := c.markerFor(base)
		mode := forwardMode{store: true, fwd: "stale"}
		cw := c.newCapture(nil, r2, mode)
		err := next(cw, r2)
		if stored := cw.finish(err, func(e *respEntry) { c.store(r2, base, marker, e, nil) }); !stored {
			if err == nil {
				err = fmt.Errorf("response not storable: %s", cw.detail)
			}
			c.log.error("refresh", "cache: background refresh failed; serving stale", err, key)
		}
	})
	if started {
		c.stats.refreshes.Add(1)
	}
}

func (c *ResponseCache) markerFor(base string) (*respEntry, *respEntry) {
	e, ok := c.local.Get(base)
	if ok && e.marker {
		return e, e
	}
	return e, nil
}

// forward calls next with a recording writer and stores what it may.
// onStored (may be nil) runs once the response is in the local tier.
func (c *ResponseCache) forward(w http.ResponseWriter, r *http.Request, next Origin, base string, marker *respEntry, mode forwardMode, onStored func()) error {
	c.stats.misses.Add(1)
	cw := c.newCapture(w, r, mode)
	err := next(cw, r)
	cw.finish(err, func(e *respEntry) { c.store(r, base, marker, e, onStored) })
	if cw.servedStale {
		return nil // the stale response answered in place of the error
	}
	return err
}

// PurgeURL removes the response stored for rawURL (a path with an optional
// query, or an absolute URL; its host matters only with IncludeHost) and
// all its Vary variants, from KV and from this process's memory.
func (c *ResponseCache) PurgeURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: cache: purge %q: %v", kv.ErrInvalidKey, rawURL, err)
	}
	c.stats.purges.Add(1)
	base := c.key(u.Host, u)
	c.local.Delete(base) // a new marker gets a new nonce: old variants are unreachable
	return c.ns.Delete(ctx, kvKeyFor(c.o.Prefix, base))
}

// nextGen returns the current time in nanoseconds, or one more than the
// last generation handed out when the clock has not moved past it: entries
// and purges of one process are strictly ordered even on a coarse clock.
func (c *ResponseCache) nextGen() int64 {
	now := c.now().UnixNano()
	for {
		last := c.lastGen.Load()
		g := max(now, last+1)
		if c.lastGen.CompareAndSwap(last, g) {
			return g
		}
	}
}

// PurgeTag invalidates every response stored with tag, in O(1): it writes
// the tag's new purge generation (the current time in nanoseconds) to KV,
// and a stored response is only served while its own generation is newer
// than each of its tags'. Other processes see the purge within their
// TagCheckInterval.
func (c *ResponseCache) PurgeTag(ctx context.Context, tag string) error {
	if tag == "" {
		return fmt.Errorf("%w: cache: empty tag", kv.ErrInvalidKey)
	}
	full := c.tagKey(tag)
	if err := kv.ValidateKey(full); err != nil {
		return &kv.Error{Op: "cache purge-tag", Key: full, Err: err}
	}
	c.stats.purges.Add(1)
	g := c.nextGen()
	if old, ok := c.tagGens.Get(tag); ok && old >= g {
		g = old + 1
	}
	c.tagGens.Set(tag, g, c.o.TagCheckInterval)
	return c.ns.Put(ctx, full, []byte(strconv.FormatInt(g, 10)), kv.PutOptions{})
}
