package counter

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kvkit/kvkit/kv"
)

// Algorithm selects how a Limiter counts.
type Algorithm int

const (
	// SlidingWindow (the default) estimates the rate over the last window
	// as go-chi/httprate does: the previous window's count weighted by how
	// much of it the sliding window still covers, plus the current window's
	// count: prev × (window − elapsed) / window + cur.
	SlidingWindow Algorithm = iota
	// FixedWindow counts requests per aligned window and starts afresh at
	// each window's start (bursts of up to 2×limit across a boundary).
	FixedWindow
)

// DefaultLimiterPrefix is the key prefix of a Limiter's counters.
const DefaultLimiterPrefix = "ratelimit:"

// DefaultKVTimeout bounds how long a request waits for KV, with
// LimiterOptions.ReadOnRequest.
const DefaultKVTimeout = 250 * time.Millisecond

// LimiterOptions configures a Limiter. The zero value is valid.
type LimiterOptions struct {
	// Algorithm is SlidingWindow or FixedWindow. Default: SlidingWindow.
	Algorithm Algorithm
	// Prefix is prepended to the limiter's counter keys, which are
	// Prefix + key + ":" + window start (Unix seconds). Two limiters on one
	// namespace need different prefixes. Default: "ratelimit:".
	Prefix string
	// Mode is Coalesced or Sharded (Direct is refused: it cannot decide
	// without a read per request). Default: Coalesced.
	Mode Mode
	// SingleWriter declares that this process is the only one counting
	// under Prefix (see Options.SingleWriter): a flush is then one write,
	// with no read before it. Default: false.
	SingleWriter bool
	// Instance names this process in Sharded mode. Required then.
	Instance string
	// SyncInterval is how often a key's counts are written and read again
	// at most (the counters' flush interval). At least 1 s. Default: 1 s.
	SyncInterval time.Duration
	// ReadOnRequest makes a request on a key this process has not synced
	// in the current window (or whose counts are over a SyncInterval old)
	// wait for its stored counts before the decision: one read for each
	// of the current and previous windows (one with FixedWindow), within
	// KVTimeout in all. Stricter across processes, but a new key costs its
	// reads on its first request, one key at a time (2,000 new clients:
	// 4,000 reads). Default: false: requests never wait for KV; such a key
	// is decided from what this process knows (its own counts) and the
	// next sync (every SyncInterval/2) reads every such key in bulk, 100
	// a call, so 2,000 new clients cost 40 reads. See the package
	// documentation for the accuracy.
	ReadOnRequest bool
	// KVTimeout bounds how long a request waits for KV (ReadOnRequest),
	// its reads together: when KV is slow or failing (retries of 429s and
	// 5xx can take seconds), the request is decided from local counts once
	// it passes. Default: DefaultKVTimeout (250 ms).
	KVTimeout time.Duration
	// Clock returns the current time. Default: time.Now to within about a
	// millisecond, as Options.Clock (an atomic load instead of a time.Now
	// call per decision).
	Clock func() time.Time
	// Tick drives the flusher, as Options.Tick. Default: a ticker.
	Tick <-chan time.Time
	// Logger receives KV failures, throttled. Default: slog.Default().
	Logger *slog.Logger
}

// Result is a Limiter's decision.
type Result struct {
	// Allowed reports whether the request is within the limit.
	Allowed bool
	// Limit is the number of requests allowed per window.
	Limit int
	// Remaining is how many more requests the current estimate allows
	// (never negative).
	Remaining int
	// Reset is when the current window ends.
	Reset time.Time
	// RetryAfter is how long a denied caller should wait before the
	// estimate lets its request through; 0 when allowed.
	RetryAfter time.Duration
}

// Limiter limits events per key and window on top of a Counter: one counter
// per key and window, whose KV TTL covers two windows (never under
// kv.MinTTL). Decisions are made in process from local counts plus the last
// known stored counts, which are synced at most once per SyncInterval per
// key by the flusher, in bulk: no request waits for KV (unless
// LimiterOptions.ReadOnRequest), and a key new to this process costs no
// read of its own. In one process the limit is exact; across processes
// sharing a namespace each process also sees the others' counts as of their
// last sync, and decides a key it has not synced yet from its own counts.
// Safe for concurrent use; Close it.
type Limiter struct {
	c             *Counter
	limit         int64
	window        time.Duration
	algo          Algorithm
	now           func() time.Time
	log           *throttledLog
	readOnRequest bool
	kvTimeout     time.Duration
	created       time.Time // when this process started counting
	winName       atomic.Pointer[windowName]
}

type windowName struct {
	start     int64
	cur, prev string // ":" + start, ":" + previous start
	reset     time.Time
	settled   time.Time // when the previous window's count stops changing
	// curZero, prevZero: with SingleWriter, a window that started after
	// the Limiter was made holds only this process's counts, so a key it
	// never counted there is 0, with no read.
	curZero, prevZero bool
	resetUnix         string
	limitText         string
	windowSecs        string
}

// NewLimiter returns a Limiter that allows limit events per window and key.
// The window is whole seconds, at least one. It fails with an error
// wrapping kv.ErrInvalidOptions for bad arguments.
func NewLimiter(ns kv.Namespace, limit int, window time.Duration, opts LimiterOptions) (*Limiter, error) {
	switch {
	case limit < 1:
		return nil, invalid("limit must be at least 1")
	case window < time.Second || window%time.Second != 0:
		return nil, invalid("window " + window.String() + " must be whole seconds, at least 1s")
	case opts.Algorithm != SlidingWindow && opts.Algorithm != FixedWindow:
		return nil, invalid("unknown algorithm")
	case opts.Mode == Direct:
		return nil, invalid("a Limiter cannot use Direct mode")
	case opts.KVTimeout < 0:
		return nil, invalid("negative KVTimeout")
	}
	if opts.KVTimeout == 0 {
		opts.KVTimeout = DefaultKVTimeout
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultLimiterPrefix
	}
	if opts.SyncInterval == 0 {
		opts.SyncInterval = DefaultFlushInterval
	}
	clock := opts.Clock
	if clock == nil {
		clock = coarseNow // the Counter's own default, which New below keeps
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ttl := max(2*window, kv.MinTTL)
	c, err := New(ns, Options{
		Prefix:        opts.Prefix,
		Mode:          opts.Mode,
		SingleWriter:  opts.SingleWriter,
		Instance:      opts.Instance,
		FlushInterval: opts.SyncInterval,
		TTL:           ttl,
		KeepIdle:      2*window + opts.SyncInterval,
		Clock:         opts.Clock,
		Tick:          opts.Tick,
		Logger:        opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &Limiter{
		c: c, limit: int64(limit), window: window, algo: opts.Algorithm, now: clock,
		log:           &throttledLog{log: opts.Logger, every: 10 * time.Second, now: clock},
		readOnRequest: opts.ReadOnRequest, kvTimeout: opts.KVTimeout, created: clock(),
	}, nil
}

// Limit returns the events allowed per window.
func (l *Limiter) Limit() int { return int(l.limit) }

// Window returns the window length.
func (l *Limiter) Window() time.Duration { return l.window }

// Counter returns the Counter that holds the limiter's counts.
func (l *Limiter) Counter() *Counter { return l.c }

// names returns the cached strings of the window containing now.
func (l *Limiter) names(now time.Time) *windowName {
	start := now.Truncate(l.window)
	if w := l.winName.Load(); w != nil && w.start == start.UnixNano() {
		return w
	}
	reset := start.Add(l.window)
	w := &windowName{
		start:      start.UnixNano(),
		cur:        ":" + strconv.FormatInt(start.Unix(), 10),
		prev:       ":" + strconv.FormatInt(start.Add(-l.window).Unix(), 10),
		reset:      reset,
		settled:    start.Add(l.c.interval),
		curZero:    l.c.single && !start.Before(l.created),
		prevZero:   l.c.single && !start.Add(-l.window).Before(l.created),
		resetUnix:  strconv.FormatInt(reset.Unix(), 10),
		limitText:  strconv.FormatInt(l.limit, 10),
		windowSecs: strconv.FormatInt(int64(l.window/time.Second), 10),
	}
	l.winName.Store(w)
	return w
}

// Allow counts one event for key and reports whether it is within the
// limit. A denied event is not counted. It makes no KV call unless
// LimiterOptions.ReadOnRequest is set (then it waits at most KVTimeout).
// When the counts of key could not be synced (its last read failed, or it
// was never read and the last sync failed) the decision is made from what
// is known locally and the error is returned too (callers choose to fail
// open or closed); failures are logged, throttled. A key too long for KV,
// or not UTF-8, fails with an error wrapping kv.ErrInvalidKey (hash such
// keys), before any KV call. A closed Limiter allows everything and returns
// ErrClosed.
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN is Allow for n events at once (n >= 1).
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (Result, error) {
	res, _, err := l.allow(ctx, key, n)
	return res, err
}

func (l *Limiter) allow(ctx context.Context, key string, n int) (Result, *windowName, error) {
	now := l.now()
	w := l.names(now)
	res := Result{Limit: int(l.limit), Reset: w.reset}
	if n < 1 {
		return res, w, invalid("AllowN needs n >= 1")
	}
	var prev int64
	var perr error
	weight := float64(w.reset.Sub(now)) / float64(l.window) // share of the previous window still covered
	curName, prevName := "", ""
	if l.algo == SlidingWindow {
		// Both windows' names in one allocation.
		both := key + w.cur + key + w.prev
		curName, prevName = both[:len(key)+len(w.cur)], both[len(key)+len(w.cur):]
	} else {
		curName = key + w.cur
	}
	// Both window keys have the same length: one check covers them.
	if err := l.c.validate("increment", curName); err != nil {
		return res, w, err
	}
	o := addOptions{deferRead: !l.readOnRequest}
	if l.readOnRequest {
		o.deadline = time.Now().Add(l.kvTimeout).UnixNano() // both windows' reads together
	}
	if l.algo == SlidingWindow {
		// The previous window only changes until its last writers'
		// flushes land, one interval after it ended: read it every
		// interval until then, and once after.
		po := o
		po.settled, po.zeroIfUnknown = unixNano(w.settled), w.prevZero
		prev, _, perr = l.c.add(ctx, prevName, 0, unixNano(now), po)
	}
	o.zeroIfUnknown = w.curZero
	var rate int64 // what allow saw
	o.allow = func(cur int64) bool {
		rate = l.rate(prev, cur, weight)
		return rate+int64(n) <= l.limit
	}
	cur, ok, err := l.c.add(ctx, curName, int64(n), unixNano(now), o)
	if errors.Is(err, ErrClosed) {
		// Shutting down: let requests through (fail-closed callers see
		// the error).
		ok = true
	}
	if err == nil {
		err = perr
	}
	if err != nil {
		l.log.error("counter: rate limiter could not sync with KV, deciding from local counts", "key", key, "err", err)
	}
	res.Allowed = ok
	if ok {
		res.Remaining = int(max(0, l.limit-rate-int64(n)))
	} else {
		res.Remaining = int(max(0, l.limit-rate))
		if l.algo == FixedWindow {
			res.RetryAfter = w.reset.Sub(now)
		} else {
			res.RetryAfter = l.slidingRetry(now, w.reset, prev, cur, int64(n))
		}
	}
	return res, w, err
}

// rate is the count a decision compares with the limit: cur, plus in a
// sliding window the share weight of the previous window's count prev.
func (l *Limiter) rate(prev, cur int64, weight float64) int64 {
	if l.algo == SlidingWindow {
		return int64(math.Round(float64(prev)*weight + float64(cur)))
	}
	return cur
}

// slidingRetry returns how long until prev × (window − elapsed) / window +
// cur + n fits the limit, assuming no other events meanwhile.
func (l *Limiter) slidingRetry(now, reset time.Time, prev, cur, n int64) time.Duration {
	W := float64(l.window)
	if n > l.limit {
		return l.window
	}
	if cur+n <= l.limit && prev > 0 {
		// Within this window: wait until the previous window's weight is low enough.
		t := W * (1 - float64(l.limit-cur-n)/float64(prev))
		elapsed := W - float64(reset.Sub(now))
		return max(time.Duration(t-elapsed), time.Millisecond)
	}
	// In the next window the current count becomes the previous one.
	t := 0.0
	if cur > 0 {
		t = max(0, W*(1-float64(l.limit-n)/float64(cur)))
	}
	return reset.Sub(now) + time.Duration(t)
}

// Flush writes every pending count now.
func (l *Limiter) Flush(ctx context.Context) error { return l.c.Flush(ctx) }

// Close stops the limiter's flusher and writes every pending count.
func (l *Limiter) Close(ctx context.Context) error { return l.c.Close(ctx) }
