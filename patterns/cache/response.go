package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	"github.com/kvkit/kvkit/internal/reqmark"
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
	// TrustedHeaders names forwarding request headers that a proxy in front
	// of every request sets, overwriting whatever the client sent, and that
	// clients cannot send past it. By default none is trusted: a request
	// carrying X-Forwarded-Host, X-Host or X-Original-Host that differs from
	// its Host, X-Forwarded-Port or X-Forwarded-Scheme that disagrees with
	// the request, or any X-Forwarded-Prefix, X-Original-URL, X-Rewrite-URL
	// or Forwarded, is answered from the cache but its own response is not
	// stored (Cache-Status detail=forwarded): a handler that builds URLs from
	// them would otherwise let a client poison the page for everyone. A
	// trusted header is not checked; a trusted X-Forwarded-Host (its first
	// value) becomes the host of the key in place of Host. X-Forwarded-Proto
	// needs no trust: it is always part of the key, as the scheme.
	// Default: none.
	TrustedHeaders []string
	// IgnoreCookies names cookies that never change a response (analytics,
	// consent banners). A request carrying any other cookie is treated like
	// one carrying Authorization: it is answered only from responses that
	// said public or s-maxage, and its own response is stored only when it
	// says so; otherwise it goes to the handler (Cache-Status
	// detail=cookie). Default: none (every cookie counts).
	IgnoreCookies []string
	// MaxMissesPerPath bounds, per path (scheme, host and path, whatever
	// the query string or Vary variant), the misses a minute for which this
	// process reads KV and may store the response. Past it, requests for
	// that path go to the handler with no KV call and are not stored
	// (Cache-Status detail=path-limit). It bounds what a flood of distinct
	// query strings (or Vary header values) costs: at most this many KV
	// reads and as many writes per path per minute, instead of one of each
	// per distinct URL. Negative turns the bound off. Default: 16.
	MaxMissesPerPath int
	// KVTimeout bounds each KV read made while a client waits (the entry,
	// its Vary variant, a tag's purge generation). A read that takes longer
	// is a miss (the cache fails open), so a KV outage with retries costs a
	// miss at most this long instead of seconds. Default: 500 ms.
	KVTimeout time.Duration
	// MaxPendingStores bounds the KV writes of stored responses that run in
	// the background, after the response has gone to the client. A response
	// stored while that many are pending is kept in memory only (counted in
	// ResponseStats.Dropped). Default: 64.
	MaxPendingStores int
	// Name is the cache's name in the Cache-Status header (RFC 9211).
	// Default: "kvkit".
	Name string
	// XCache adds an X-Cache: HIT, MISS, STALE or REVALIDATED (a stale
	// response the handler confirmed with 304) header. Default: false.
	XCache bool
	// TagHeader is the response header in which a handler lists the tags of
	// its response (comma or space separated). The cache strips it before
	// the response is sent. Default: "Cache-Tag".
	TagHeader string
	// PurgeBound bounds how long a PurgeURL or PurgeTag made by another
	// process sharing the namespace and Prefix takes to show here (plus one
	// KV read, and as far as KV's own consistency allows: see resppurge.go
	// and the package doc). Every process reads one purge log record at
	// most once per PurgeBound, on the first request after it has passed:
	// 60s/PurgeBound KV reads a minute per process whatever its traffic
	// (12 at the default), and every purge adds one KV read and one write
	// of the log. Purges made through this ResponseCache show at once.
	// Negative turns the log off: other processes then see a tag purge
	// within a minute (tags' generations are re-read that often) and a URL
	// purge when LocalTTL ends. Default: 5 seconds.
	PurgeBound time.Duration
	// KeepStale is how long past its stale windows a 2xx response is kept
	// (in both tiers, and as KV's TTL) when it carries a validator of the
	// handler's (an ETag the handler set, or Last-Modified), so that a
	// request then revalidates it: the handler is called with
	// If-None-Match / If-Modified-Since, and a 304 renews the entry without
	// its body (Cache-Status fwd=stale; fwd-status=304). Default: the
	// response's own freshness lifetime (a response fresh for 5 minutes is
	// kept 5 more). Negative: not kept (only a stale-while-revalidate or
	// stale-if-error window then revalidates).
	KeepStale time.Duration
	// LocalMaxBytes bounds the in-process tier by bytes. Default: 64 MiB.
	LocalMaxBytes uint64
	// LocalTTL caps how long a response stays in the in-process tier before
	// it is read from KV again (so other processes' purges show up).
	// Default: 0 = the entry's whole life.
	LocalTTL time.Duration
	// RefreshTimeout bounds one background refresh, and every background
	// KV write. Default: 30 seconds.
	RefreshTimeout time.Duration
	// NoETag turns off the strong ETag the cache adds, when the handler
	// set none, to a stored 200: a hash of the body made once, when the
	// response is stored, so that If-None-Match can be answered with 304
	// from the cache. Default: false (the ETag is added).
	NoETag bool
	// KeepOnWrite turns off the invalidation of RFC 9111 §4.4: by default
	// a 2xx or 3xx response to POST, PUT, PATCH or DELETE purges the
	// stored GET of its URL and of its same-origin Location and
	// Content-Location. Default: false (writes purge).
	KeepOnWrite bool
	// Jitter shortens each stored response's freshness by a random
	// fraction in [0, Jitter), as Options.Jitter does for the read-through
	// cache, so that responses stored together (after a deploy or a purge)
	// do not all expire, and all go to the handler, at once. It applies to
	// the TTL a response asked for as to the default, after MaxTTL, and
	// never below one second. Must be in [0, 1). Default: 0 (no jitter).
	Jitter float64
	// IgnoreRequestNoCache makes the cache ignore a client's Cache-Control
	// no-cache, max-age and min-fresh request directives (RFC 9111
	// §5.2.1), as CDNs allow, to stop clients defeating the cache: by
	// default a request with no-cache or max-age=0 (what a browser's
	// reload sends) goes to the handler and its response is stored for
	// everyone, one with max-age=N refuses responses older than N seconds,
	// and one with min-fresh=N those with less than N seconds of freshness
	// left. Each such request costs a handler call (bounded per path by
	// MaxMissesPerPath). max-stale, only-if-cached and no-store count
	// either way. Default: false (the directives are obeyed).
	IgnoreRequestNoCache bool
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
	Stored    int64 // responses written to KV (a failed write counts in KVErrors)
	Dropped   int64 // responses kept in memory only: MaxPendingStores writes were pending, or Close was called
	Collapsed int64 // requests that waited for another request's handler call
	KVErrors  int64 // KV calls that failed (the cache then fails open)
	Refreshes int64 // background refreshes started
	Purges    int64 // PurgeURL and PurgeTag calls
	// Revalidated counts stale responses the handler answered 304 for
	// (a conditional request on the entry's validators): renewed without
	// their body going through the handler again. They also count in
	// Misses (or, in the background, in Refreshes).
	Revalidated int64
}

// ResponseCache is an HTTP response cache over a KV namespace with an
// in-process tier, following the shared-cache rules of RFC 9111 that apply
// to a cache inside the server. The net/http and Echo middlewares of kvkit
// are thin adapters over Serve. It is safe for concurrent use; Close it to
// end background refreshes and KV writes.
type ResponseCache struct {
	ns       kv.Namespace
	o        ResponseOptions
	now      func() time.Time
	local    *respTier
	tagGens  *lcache.Cache[string, int64]
	misses   missTable                    // per path, this minute's KV misses
	purged   *lcache.Cache[string, int64] // base key → generation of its last PurgeURL
	statuses [600]bool
	trusted  map[string]bool
	ignored  map[string]bool // IgnoreCookies
	log      *quietLog
	stats    respCounters
	tagReads singleflight.Group
	xHit     []string
	xMiss    []string
	xStale   []string
	lastGen  atomic.Int64
	purge    purgeState // resppurge.go

	mu      sync.Mutex
	flights map[string]*respFlight
	writing map[string]*inflight // base key → its background KV writes in flight
	bg      *refresher
}

type respCounters struct {
	hits, stale, misses, stored, dropped, collapsed, kvErrors, refreshes, purges, revalidated atomic.Int64
}

type respFlight struct {
	done     chan struct{}
	stored   bool
	rendered bool // stored a response the handler made during the flight
}

// NewResponseCache returns a response cache over ns. It returns an error
// wrapping kv.ErrInvalidOptions for unusable options.
func NewResponseCache(ns kv.Namespace, o ResponseOptions) (*ResponseCache, error) {
	if ns == nil {
		return nil, fmt.Errorf("%w: cache: nil namespace", kv.ErrInvalidOptions)
	}
	switch {
	case o.TTL < 0, o.MaxTTL < 0, o.StaleWhileRevalidate < 0, o.StaleIfError < 0, o.MaxBodySize < 0,
		o.LocalTTL < 0, o.RefreshTimeout < 0, o.KVTimeout < 0, o.MaxPendingStores < 0:
		return nil, fmt.Errorf("%w: cache: negative duration or size", kv.ErrInvalidOptions)
	case o.MaxBodySize > kv.MaxValueSize-64<<10:
		return nil, fmt.Errorf("%w: cache: MaxBodySize %d is over KV's value limit less 64 KiB for headers", kv.ErrInvalidOptions, o.MaxBodySize)
	case o.Jitter < 0 || o.Jitter >= 1:
		return nil, fmt.Errorf("%w: cache: Jitter %v is not in [0, 1)", kv.ErrInvalidOptions, o.Jitter)
	case slices.Contains(o.Statuses, http.StatusPartialContent):
		return nil, fmt.Errorf("%w: cache: status 206 cannot be stored (a part is not the response; ranges are served from a stored 200)", kv.ErrInvalidOptions)
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
	if o.PurgeBound == 0 {
		o.PurgeBound = 5 * time.Second
	}
	if o.LocalMaxBytes == 0 {
		o.LocalMaxBytes = 64 << 20
	}
	if o.RefreshTimeout == 0 {
		o.RefreshTimeout = 30 * time.Second
	}
	if o.KVTimeout == 0 {
		o.KVTimeout = 500 * time.Millisecond
	}
	if o.MaxPendingStores == 0 {
		o.MaxPendingStores = 64
	}
	if o.MaxMissesPerPath == 0 {
		o.MaxMissesPerPath = 16
	}
	localClock := o.Clock // nil: lcache's own cheapest clock
	if o.Clock == nil {
		o.Clock = coarseNow // time.Now costs ~50 ns here: one read per hit
	}
	c := &ResponseCache{
		ns: ns, o: o, now: o.Clock, log: newQuietLog(o.Logger, o.Clock),
		xHit: []string{"HIT"}, xMiss: []string{"MISS"}, xStale: []string{"STALE"},
		flights: map[string]*respFlight{}, writing: map[string]*inflight{}, bg: newRefresher(o.RefreshTimeout),
	}
	c.purge.id = newPurgeID()
	c.trusted = map[string]bool{}
	for _, h := range o.TrustedHeaders {
		c.trusted[http.CanonicalHeaderKey(h)] = true
	}
	if len(o.IgnoreCookies) > 0 {
		c.ignored = map[string]bool{}
		for _, n := range o.IgnoreCookies {
			c.ignored[n] = true
		}
	}
	for _, s := range o.Statuses {
		if s < 100 || s > 599 {
			return nil, fmt.Errorf("%w: cache: status %d", kv.ErrInvalidOptions, s)
		}
		c.statuses[s] = true
	}
	var err error
	c.local = newRespTier(o.LocalMaxBytes, localClock)
	c.tagGens, err = lcache.New(lcache.Options[string, int64]{MaxEntries: 10_000, Clock: localClock})
	if err != nil {
		return nil, fmt.Errorf("%w: cache: %v", kv.ErrInvalidOptions, err)
	}
	c.misses.init()
	c.purged, err = lcache.New(lcache.Options[string, int64]{MaxEntries: 10_000, Clock: localClock})
	if err != nil {
		return nil, fmt.Errorf("%w: cache: %v", kv.ErrInvalidOptions, err)
	}
	return c, nil
}

// Stats returns a snapshot of the counters.
func (c *ResponseCache) Stats() ResponseStats {
	s := &c.stats
	return ResponseStats{
		Hits: s.hits.Load(), Stale: s.stale.Load(), Misses: s.misses.Load(), Stored: s.stored.Load(), Dropped: s.dropped.Load(),
		Collapsed: s.collapsed.Load(), KVErrors: s.kvErrors.Load(), Refreshes: s.refreshes.Load(),
		Purges: s.purges.Load(), Revalidated: s.revalidated.Load(),
	}
}

// Close stops starting background refreshes and KV writes, cancels the
// running ones and waits for them to end. Serve keeps working after Close
// (what it stores is then kept in memory only). It returns ctx.Err() if ctx
// ends first.
func (c *ResponseCache) Close(ctx context.Context) error {
	return c.bg.close(ctx)
}

// Serve answers r from the cache or through next, storing what it may.
// Only GET and HEAD are cached (HEAD is answered from the GET entry and,
// on a miss, next renders the GET, which is stored, and the HEAD gets its
// header); other methods go straight to next, and a write (POST, PUT,
// PATCH, DELETE) answered 2xx or 3xx purges its URL. A Range on a stored
// 200 is answered 206 or 416 from it; the request's Cache-Control
// directives (no-cache, max-age, min-fresh, max-stale, only-if-cached)
// decide which stored response may answer (see ResponseOptions.IgnoreRequestNoCache).
// Concurrent GETs of one cold URL call next once and share its response
// when it can be stored. Serve returns next's error (after serving the
// stale response instead, when stale-if-error applies) or, for a request
// that gave up waiting for another's response, its context's error.
//
// A response that leaves with Set-Cookie, or that was rendered for a
// request whose session (patterns/session, in any middleware order) was
// read or changed, is never stored. A stored response goes to KV after it
// has been sent.
func (c *ResponseCache) Serve(w http.ResponseWriter, r *http.Request, next Origin) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return c.serveUnsafe(w, r, next)
	}
	c.pollPurges(r.Context())
	var kbuf [256]byte
	kb := c.appendRequestKey(kbuf[:0], r)
	mode := forwardMode{store: true, fwd: "miss"}
	if v := r.Header["Cache-Control"]; len(v) > 0 {
		if parseCacheControl(v).noStore {
			mode.store, mode.reason = false, "request-no-store"
		}
		mode.rd = c.requestDirectives(v)
	}
	if r.Method == http.MethodHead && mode.store {
		// A HEAD miss fills the cache: the handler renders the GET, the
		// client gets its header.
		next, w = headAsGET(next), headWriter{w}
	}
	auth := len(r.Header["Authorization"]) > 0
	cookie := c.personalCookie(r.Header)
	ctx := r.Context()
	// A fresh hit first, as ServeFresh answers it, before the key is made a
	// string; request directives are weighed by the loop below.
	if mode.rd == nil && c.serveFresh(w, r, kb) {
		return nil
	}
	base := string(kb)
	for attempt := 0; ; attempt++ {
		now := c.now()
		e, key, marker := c.lookupLocal(base, r.Header)
		if e != nil && c.usable(ctx, e, auth, cookie) {
			switch mode.rd.judge(e, now) {
			case useFresh:
				c.writeHit(w, r, e, now, false)
				return nil
			case useStale:
				c.writeHit(w, r, e, now, true)
				if !auth && !cookie {
					c.startRefresh(r, base, key, next)
				}
				return nil
			case useMaxStale:
				c.writeHitAs(w, r, e, now, "max-stale")
				return nil
			case useCandidate:
				mode.candidate, mode.fwd = e, fwdFor(e, now)
			}
		}
		if mode.rd.onlyIfCached() {
			return c.serveOnlyIfCached(w, r, base, marker, mode, auth, cookie)
		}
		if attempt == 0 {
			// From here the handler may run: give the request a mark that
			// the session layer sets when the response becomes personal,
			// and check what only a stored response needs.
			if mctx, _ := reqmark.Ensure(ctx); mctx != ctx {
				ctx = mctx
				r = r.WithContext(ctx)
			}
			if mode.store && c.forwarded(r) {
				mode.store, mode.reason = false, "forwarded"
			}
		}
		// Only requests whose response may be stored and shared lead or
		// join a flight.
		if !mode.store || auth || cookie || attempt >= 2 {
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
		if f.rendered {
			mode.rd = mode.rd.afterFlight()
		}
	}
}

// admitMiss counts a miss of base's path and reports whether it is within
// MaxMissesPerPath this minute.
func (c *ResponseCache) admitMiss(base string) bool {
	if c.o.MaxMissesPerPath < 0 {
		return true
	}
	return c.misses.admit(pathOf(base), c.now().UnixNano(), c.o.MaxMissesPerPath)
}

// ServeFresh answers r from a fresh entry of the in-process tier, with no
// KV call and no handler, and reports whether it did. Serve does the same
// first; adapters call ServeFresh before Serve to skip their per-request
// setup on the hot path. A request with Cache-Control is left to Serve,
// which weighs its directives.
func (c *ResponseCache) ServeFresh(w http.ResponseWriter, r *http.Request) bool {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || len(r.Header["Cache-Control"]) > 0 {
		return false // request directives: Serve weighs them
	}
	c.pollPurges(r.Context())
	var kbuf [256]byte
	return c.serveFresh(w, r, c.appendRequestKey(kbuf[:0], r))
}

// serveFresh is ServeFresh for r's key kb, its directives already weighed.
func (c *ResponseCache) serveFresh(w http.ResponseWriter, r *http.Request, kb []byte) bool {
	e, _ := c.local.getBytes(kb)
	if e != nil && e.marker {
		e, _, _ = c.lookupLocal(string(kb), r.Header)
	}
	if e == nil {
		return false
	}
	now := c.now()
	if now.UnixNano() >= e.fresh {
		return false
	}
	auth := len(r.Header["Authorization"]) > 0
	if !c.usable(r.Context(), e, auth, !e.cookieOK && c.personalCookie(r.Header)) {
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
	if e, _, _ := c.lookupLocal(base, r.Header); e != nil && mode.rd.judge(e, now) == useFresh && c.usable(ctx, e, false, false) {
		f.stored = true
		release()
		c.writeHit(w, r, e, now, false)
		return nil
	}
	// Only now is it a miss: a request that found the entry above is not
	// charged against its path's bound (under a burst, many requests miss
	// the local tier just before the first flight fills it).
	if !c.admitMiss(base) {
		release()
		mode.store, mode.reason = false, "path-limit"
		return c.forward(w, r, next, base, marker, mode, nil)
	}
	e, key, marker := c.lookupKV(ctx, base, r.Header, marker)
	now = c.now()
	if e != nil && c.usable(ctx, e, false, false) {
		switch v := mode.rd.judge(e, now); {
		case v == useFresh:
			c.remember(key, e, now)
			f.stored = true
			release()
			c.writeHit(w, r, e, now, false)
			return nil
		case v == useStale:
			c.remember(key, e, now)
			f.stored = true
			release()
			c.writeHit(w, r, e, now, true)
			c.startRefresh(r, base, key, next)
			return nil
		case v == useMaxStale:
			c.remember(key, e, now)
			release() // f.stored stays false: others may not accept it
			c.writeHitAs(w, r, e, now, "max-stale")
			return nil
		case v == useCandidate && (mode.candidate == nil || e.created > mode.candidate.created):
			mode.candidate, mode.fwd = e, fwdFor(e, now)
		}
	}
	return c.forward(w, r, next, base, marker, mode, func() {
		f.stored, f.rendered = true, true
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
	kctx, cancel := context.WithTimeout(ctx, c.o.KVTimeout)
	it, found, err := c.ns.Get(kctx, full, kv.GetOptions{})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil // the client went away: not a KV failure
		}
		c.stats.kvErrors.Add(1)
		c.log.error("kv-get", "cache: KV read failed or timed out; serving from the handler", err, full)
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
	e = e.packed()
	ttl := nsAt(e.until()).Sub(now)
	if c.o.LocalTTL > 0 {
		ttl = min(ttl, c.o.LocalTTL)
	}
	c.local.Set(key, e, ttl, uint32(min(len(key)+e.memSize(), 1<<31)))
}

// usable reports whether e may answer a request: one with Authorization,
// or with a cookie not in IgnoreCookies, only when the response allowed it,
// and only while none of its tags has been purged since it was stored.
func (c *ResponseCache) usable(ctx context.Context, e *respEntry, auth, cookie bool) bool {
	if (auth && !e.authOK) || (cookie && !e.cookieOK) {
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
// most once a minute (the purge log brings other processes' purges sooner).
// A KV failure reads as "never purged".
func (c *ResponseCache) tagGen(ctx context.Context, tag string) int64 {
	if g, ok := c.tagGens.Get(tag); ok {
		return g
	}
	v, _, _ := c.tagReads.Do(tag, func() (any, error) {
		full := c.tagKey(tag)
		var g int64
		kctx, cancel := context.WithTimeout(ctx, c.o.KVTimeout)
		it, found, err := c.ns.Get(kctx, full, kv.GetOptions{})
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return g, nil // the client went away: ask again next time
		case err != nil:
			c.stats.kvErrors.Add(1)
			c.log.error("kv-get", "cache: KV read of a tag failed", err, full)
		case found:
			var perr error
			if g, perr = strconv.ParseInt(string(it.Value), 10, 64); perr != nil {
				// Not a generation: fail safe, as if purged just now.
				c.log.error("decode", "cache: ignoring a malformed tag record", perr, full)
				g = c.nextGen()
			}
		}
		c.tagGens.Set(tag, g, tagRecheck)
		return g, nil
	})
	return v.(int64)
}

// writeHit replays a stored response, fresh or stale (within
// stale-while-revalidate or stale-if-error).
func (c *ResponseCache) writeHit(w http.ResponseWriter, r *http.Request, e *respEntry, now time.Time, stale bool) {
	detail := ""
	if stale {
		detail = "stale-while-revalidate"
	}
	c.writeHitAs(w, r, e, now, detail)
}

// writeHitAs replays a stored response: a 304 when r's validators match,
// a 206 or 416 for a Range on a stored 200, else the whole response.
// detail is the Cache-Status detail of a stale hit ("" when fresh).
func (c *ResponseCache) writeHitAs(w http.ResponseWriter, r *http.Request, e *respEntry, now time.Time, detail string) {
	if c.notModified(r, e) {
		c.write304(w, e, now, detail)
		return
	}
	h := w.Header()
	for _, sh := range e.header {
		h[sh.name] = sh.values[:len(sh.values):len(sh.values)]
	}
	c.setHitStatus(h, c.hitHeaders(e, now), detail)
	if len(r.Header["Range"]) > 0 && c.writeRange(w, r, e) {
		return
	}
	// net/http computes Content-Length itself for a body that fits its
	// 2 KiB buffer; set it for larger bodies (no chunking) and for HEAD.
	if bodyAllowed(int(e.status)) && (len(e.body) > 2048 || r.Method == http.MethodHead) {
		h["Content-Length"] = lengthValue(len(e.body))[:1:1]
	}
	w.WriteHeader(int(e.status))
	if r.Method != http.MethodHead && bodyAllowed(int(e.status)) {
		_, _ = w.Write(e.body)
	}
}

// setHitStatus sets Age, Cache-Status and X-Cache for a hit (any answer
// made from e: 200, 206, 304, 416), and counts it. detail is that of a
// stale hit, "" for a fresh one.
func (c *ResponseCache) setHitStatus(h http.Header, hh *hitHeaders, detail string) {
	h["Age"] = hh.age[:1:1]
	if detail != "" {
		c.stats.stale.Add(1)
		h["Cache-Status"] = []string{hh.status[0] + "; detail=" + detail}
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
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// store keeps e (the response to r) in both tiers. Under a Vary marker the
// entry goes to its variant key and the marker to base. release runs once
// the local tier has it; the KV writes run afterwards in the background
// (at most MaxPendingStores at a time, cancelled by Close).
func (c *ResponseCache) store(r *http.Request, base string, marker *respEntry, e *respEntry, release func()) {
	if c.purgedSince(base, e.gen) {
		// PurgeURL ran while the handler did: what it rendered is gone too.
		if release != nil {
			release()
		}
		return
	}
	now := c.now()
	c.setKeep(e)
	key := base
	var putMarker *respEntry
	if vary := e.vary(); len(vary) > 0 {
		if marker == nil || !slices.Equal(marker.vary(), vary) || marker.until() < e.until() {
			m := &respEntry{marker: true, created: now.UnixNano(), fresh: e.fresh, stale: e.stale, errUntil: e.errUntil, keepFor: e.keepFor}
			if marker != nil && slices.Equal(marker.vary(), vary) {
				m.setVary(vary, marker.nonce())
			} else {
				var b [8]byte
				_, _ = rand.Read(b[:])
				m.setVary(vary, hex.EncodeToString(b[:]))
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
	started := c.bg.startWrite(r.Context(), c.o.MaxPendingStores, func(ctx context.Context) {
		done := c.beginWrite(base, e.gen)
		if done == nil {
			return // purged while the write was pending
		}
		defer done()
		if putMarker != nil && !c.kvPut(ctx, base, putMarker, now) {
			return // a variant without its marker could not be found
		}
		if c.kvPut(ctx, key, e, now) {
			c.stats.stored.Add(1)
		}
	})
	if !started {
		c.stats.dropped.Add(1)
	}
}

// purgedSince reports whether PurgeURL removed base after generation gen.
func (c *ResponseCache) purgedSince(base string, gen int64) bool {
	g, ok := c.purged.Get(base)
	return ok && g >= gen
}

// beginWrite registers a background write of base for an entry of
// generation gen, so that PurgeURL waits for it, and returns the function
// that ends it; nil when base was purged since gen (the write must not
// happen).
func (c *ResponseCache) beginWrite(base string, gen int64) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.purgedSince(base, gen) {
		return nil
	}
	w := c.writing[base]
	if w == nil {
		w = &inflight{done: make(chan struct{})}
		c.writing[base] = w
	}
	w.n++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if w.n--; w.n == 0 {
			close(w.done)
			delete(c.writing, base)
		}
	}
}

// inflight counts the background writes of one base key.
type inflight struct {
	n    int
	done chan struct{} // closed when n drops to 0
}

// kvPut writes e under key and reports whether it did.
func (c *ResponseCache) kvPut(ctx context.Context, key string, e *respEntry, now time.Time) bool {
	full := kvKeyFor(c.o.Prefix, key)
	b, err := e.encode()
	if err == nil {
		err = c.ns.Put(ctx, full, b, kv.PutOptions{TTL: kvTTL(nsAt(e.until()), now)})
	}
	if err != nil {
		c.stats.kvErrors.Add(1)
		c.log.error("kv-put", "cache: KV write failed; response kept in memory only", err, full)
		return false
	}
	return true
}

// startRefresh runs next in the background for a stale entry (as a
// conditional request when the entry has a validator: see refresh), once per key
// at a time, on a context detached from r and bounded by RefreshTimeout.
// Only a request whose own response could be stored for everyone starts
// one: no Authorization, no personal cookie (both checked by the caller),
// no untrusted forwarding header, and a session not made personal.
func (c *ResponseCache) startRefresh(r *http.Request, base, key string, next Origin) {
	if reqmark.From(r.Context()).Personal() || c.forwarded(r) {
		return
	}
	// Cloned here, while r is the live request; the refresh gets its own
	// context below, with a mark of its own unless an outer layer (the
	// session's) already put one there.
	ctx, _ := reqmark.Ensure(context.WithValue(r.Context(), refreshKey{}, true))
	r2 := r.Clone(ctx)
	r2.Method = http.MethodGet
	r2.Body = http.NoBody
	// The client's conditional is not the refresh's: a 304 to it could not
	// be stored (the refresh sends the entry's own validators instead).
	delete(r2.Header, "If-None-Match")
	delete(r2.Header, "If-Modified-Since")
	started := c.bg.start(r2.Context(), key, func(ctx context.Context) {
		defer func() {
			if p := recover(); p != nil {
				c.log.error("refresh", "cache: handler panicked in a background refresh", fmt.Errorf("panic: %v", p), key)
			}
		}()
		r2 := r2.WithContext(ctx)
		_, marker := c.markerFor(base)
		cand, _ := c.local.Get(key)
		if cand != nil && cand.marker {
			cand = nil
		}
		if err := c.refresh(r2, next, base, marker, cand); err != nil {
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
	if c.revalidates(r, mode.candidate, mode) {
		_, err := c.revalidate(w, r, next, base, marker, mode, onStored, mode.candidate)
		return err
	}
	c.stats.misses.Add(1)
	cw := c.newCapture(w, r, mode)
	err := next(cw, r)
	cw.finish(err, func(e *respEntry) { c.store(r, base, marker, e, onStored) })
	if cw.servedStale {
		return nil // the stale response answered in place of the error
	}
	return err
}

// PurgeURL removes the response stored for rawURL, an absolute URL whose
// host is that of the requests (the key includes it), and all its Vary
// variants, from KV and from this process's memory, and logs the purge so
// that other processes drop their copies within PurgeBound. The http and https
// entries of the URL both go (one KV delete each), whatever its scheme: a
// server behind a TLS-terminating proxy may see either.
func (c *ResponseCache) PurgeURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: cache: purge %q: %v", kv.ErrInvalidKey, rawURL, err)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: cache: purge %q: the URL needs a host (responses are stored per host)", kv.ErrInvalidKey, rawURL)
	}
	c.stats.purges.Add(1)
	g := c.nextGen()
	var errs []error
	var recs []purgeRec
	for _, scheme := range [...]string{"http", "https"} {
		base := urlKey(scheme, u.Host, u)
		recs = append(recs, purgeRec{G: g, U: base})
		// Responses rendered before now are not stored any more, and a KV
		// write already under way ends before the delete.
		c.mu.Lock()
		c.purged.Set(base, g, 2*max(c.o.RefreshTimeout, time.Minute))
		w := c.writing[base]
		c.mu.Unlock()
		if w != nil {
			select {
			case <-w.done:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		c.local.Delete(base) // a new marker gets a new nonce: old variants are unreachable
		if err := c.ns.Delete(ctx, kvKeyFor(c.o.Prefix, base)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.logPurges(ctx, recs...); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
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
// PurgeBound (through the purge log: one more KV read and write), or within
// a minute when the log is off or lost the append.
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
	c.tagGens.Set(tag, g, tagRecheck)
	if err := c.ns.Put(ctx, full, []byte(strconv.FormatInt(g, 10)), kv.PutOptions{}); err != nil {
		return err
	}
	return c.logPurges(ctx, purgeRec{G: g, T: tag})
}
