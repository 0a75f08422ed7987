package flags

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/kvkit/kvkit/internal/coarse"
	"github.com/kvkit/kvkit/internal/lcache"
	"github.com/kvkit/kvkit/kv"
)

// Options configures a Client. The zero value is valid.
type Options struct {
	// Prefix is the key prefix of flag definitions: flag "new-ui" is stored
	// under Prefix+"new-ui". Optional. Default: "flag:" (the recipe's).
	Prefix string
	// CacheTTL is how long a loaded definition (or the absence of one) is
	// served from memory before the next evaluation reloads it.
	// Optional. Default: 30s (the recipe's cacheTtl).
	CacheTTL time.Duration
	// RetryAfter is how long a failed load is remembered: the last known
	// definition (or, for a flag never loaded, the error) is served for this
	// long before the next attempt, so a KV outage is not hammered.
	// Optional. Default: 5s, at most CacheTTL.
	RetryAfter time.Duration
	// LoadAll loads every flag under Prefix in one listing plus bulk reads
	// (one list call per 1,000 flags and one bulk read per 100) instead of
	// one read per flag, and refreshes them together. For services that check
	// many flags. Optional. Default: false (one read per flag).
	LoadAll bool
	// MaxFlags bounds how many flags (names that have a definition) the
	// per-flag cache keeps. Past it, the flags checked least often are
	// evicted (otter's W-TinyLFU) and read again when next checked.
	// Optional. Default: 10,000.
	MaxFlags int
	// MaxAbsent bounds how many names that are not flags (or whose first
	// load failed) the per-flag cache remembers, in a cache of their own:
	// a caller that checks names taken from requests can only evict other
	// absent names, never a flag, and a flag created later is cached like
	// any other. An evicted absent name costs a read when checked again.
	// Optional. Default: 10,000.
	MaxAbsent int
	// Clock returns the current time, for the cache. Optional.
	// Default: time.Now. Tests inject kvtest.Clock.Now.
	Clock func() time.Time
	// Logger receives refresh failures. Optional. Default: slog.Default().
	Logger *slog.Logger
	// LogEvery rate-limits the refresh-failure log: at most one line per
	// LogEvery, carrying the count of lines suppressed.
	// Optional. Default: 1 minute.
	LogEvery time.Duration
}

// DefaultPrefix is the key prefix of flag definitions unless Options.Prefix
// says otherwise.
const DefaultPrefix = "flag:"

// Client reads, caches and evaluates feature flags stored in a KV namespace.
// It is safe for concurrent use and starts no goroutines.
type Client struct {
	store      *kv.Store[Flag]
	prefix     string
	ttl        time.Duration
	retryAfter time.Duration
	loadAll    bool
	now        func() time.Time // the Clock option
	nanos      func() int64     // now, as nanoseconds since base: cheaper on the hot path
	base       time.Time
	log        *slog.Logger
	logEvery   time.Duration

	// A name's entry lives in known while its state holds a definition,
	// in absent otherwise. Reads take no lock of the Client's.
	known  *lcache.Cache[string, *entry]
	absent *lcache.Cache[string, *entry]
	mu     sync.Mutex               // serialises placing entries in known or absent
	sf     singleflight.Group       // one load per flag name
	all    atomic.Pointer[snapshot] // LoadAll and EvaluateAll
	sfAll  singleflight.Group

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed int
}

// entry holds the current state of one flag name.
type entry struct{ st atomic.Pointer[state] }

// state is one load of a flag: its definition (nil when absent), until when
// it is served, and the error of a failed load when nothing was known.
type state struct {
	flag    *compiled
	expires int64 // Client.nanos time
	err     error
}

// snapshot is one load of every flag under the prefix.
type snapshot struct {
	flags   map[string]*compiled
	expires int64 // Client.nanos time
	err     error
	loaded  bool // flags came from a successful load at some point
}

// New returns a Client over ns. It fails with kv.ErrInvalidOptions for a nil
// namespace, a bad prefix or negative durations and sizes.
func New(ns kv.Namespace, opts Options) (*Client, error) {
	if opts.CacheTTL < 0 || opts.RetryAfter < 0 || opts.MaxFlags < 0 || opts.MaxAbsent < 0 || opts.LogEvery < 0 {
		return nil, fmt.Errorf("flags: %w: negative CacheTTL, RetryAfter, MaxFlags, MaxAbsent or LogEvery", kv.ErrInvalidOptions)
	}
	c := &Client{
		prefix:     opts.Prefix,
		ttl:        opts.CacheTTL,
		retryAfter: opts.RetryAfter,
		loadAll:    opts.LoadAll,
		now:        opts.Clock,
		log:        opts.Logger,
		logEvery:   opts.LogEvery,
	}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	if c.ttl == 0 {
		c.ttl = 30 * time.Second
	}
	if c.retryAfter == 0 {
		c.retryAfter = 5 * time.Second
	}
	c.retryAfter = min(c.retryAfter, c.ttl)
	maxFlags, maxAbsent := opts.MaxFlags, opts.MaxAbsent
	if maxFlags == 0 {
		maxFlags = 10000
	}
	if maxAbsent == 0 {
		maxAbsent = 10000
	}
	var err error
	if c.known, err = lcache.New(lcache.Options[string, *entry]{MaxEntries: maxFlags, Clock: opts.Clock}); err != nil {
		return nil, fmt.Errorf("flags: %w: %w", kv.ErrInvalidOptions, err)
	}
	if c.absent, err = lcache.New(lcache.Options[string, *entry]{MaxEntries: maxAbsent, Clock: opts.Clock}); err != nil {
		return nil, fmt.Errorf("flags: %w: %w", kv.ErrInvalidOptions, err)
	}
	if c.now == nil {
		// time.Now costs ~50 ns here, half a SHA-256: the hot path reads
		// internal/coarse (an atomic load, within ~1 ms) instead.
		c.now = time.Now
		c.base = time.Now()
		base := c.base.UnixNano()
		c.nanos = func() int64 { return coarse.Now() - base }
	} else {
		c.base = c.now()
		c.nanos = func() int64 { return int64(c.now().Sub(c.base)) }
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.logEvery == 0 {
		c.logEvery = time.Minute
	}
	store, err := kv.New[Flag](ns, kv.Options{Prefix: c.prefix, Clock: c.now})
	if err != nil {
		return nil, err
	}
	c.store = store
	return c, nil
}

// Must is like New but panics on error.
func Must(c *Client, err error) *Client {
	if err != nil {
		panic(err)
	}
	return c
}

// Prefix returns the key prefix of flag definitions.
func (c *Client) Prefix() string { return c.prefix }

// IsEnabled reports whether flag name is on for userID: the method for
// handlers. A missing flag is off; a flag whose definition cannot be loaded
// (and was never loaded) is off too: use Evaluate to see the error. Served
// from memory within the cache TTL, it costs one SHA-256 and a cache
// lookup, and does not allocate.
func (c *Client) IsEnabled(ctx context.Context, name, userID string) bool {
	f, _ := c.lookup(ctx, name)
	return f.evaluate(name, userID).Enabled
}

// Variant returns the variant of flag name chosen for userID (an A/B arm),
// or "" when the flag is off for the user, has no variants, or cannot be
// loaded (Evaluate reports why).
func (c *Client) Variant(ctx context.Context, name, userID string) string {
	f, _ := c.lookup(ctx, name)
	return f.evaluate(name, userID).Variant
}

// Evaluate decides flag name for userID (see [Flag.Evaluate] for the rules)
// and says which rule decided: the method for logs, debugging pages and
// callers that must tell "off" from "could not load". A flag that could not
// be loaded and was never known is off with ReasonError and the error; a
// load that fails after the flag was loaded once is not an error (the last
// known definition is served, and the failure logged).
func (c *Client) Evaluate(ctx context.Context, name, userID string) (Decision, error) {
	f, err := c.lookup(ctx, name)
	if f == nil && err != nil {
		return Decision{Reason: ReasonError}, err
	}
	return f.evaluate(name, userID), nil
}

// Get returns the definition of flag name as the Client currently serves it
// (from memory within the cache TTL; [Client.List] reads KV afresh). found
// is false for a missing flag. The slices in the result are shared with the
// cache: do not modify them.
func (c *Client) Get(ctx context.Context, name string) (f Flag, found bool, err error) {
	cf, err := c.lookup(ctx, name)
	if cf == nil {
		return Flag{}, false, err
	}
	return cf.def, true, nil
}

// lookup returns the definition to serve for name: nil when absent. err is
// set only when nothing is known and the load failed.
func (c *Client) lookup(ctx context.Context, name string) (*compiled, error) {
	now := c.nanos()
	if c.loadAll {
		s, err := c.snapshot(ctx, now)
		if s == nil {
			return nil, err
		}
		if s.err != nil && !s.loaded {
			return nil, s.err
		}
		return s.flags[name], nil
	}
	e, ok := c.known.Get(name)
	if !ok {
		e, ok = c.absent.Get(name)
	}
	if ok {
		if st := e.st.Load(); st != nil && now < st.expires {
			return st.flag, st.err
		}
	}
	return c.load(ctx, name)
}

// load reads one flag, once for all concurrent callers.
func (c *Client) load(ctx context.Context, name string) (*compiled, error) {
	if err := c.validName(name); err != nil {
		return nil, err
	}
	v, _, _ := c.sf.Do(name, func() (any, error) {
		e := c.find(name)
		var prev *state
		if e != nil {
			prev = e.st.Load()
			if prev != nil && c.nanos() < prev.expires {
				return prev, nil // refreshed by a caller that just finished
			}
		}
		def, found, err := c.store.Get(ctx, name)
		now := c.nanos()
		var st *state
		switch {
		case err != nil && ctx.Err() != nil:
			// The caller gave up: that says nothing about KV, so nothing
			// is remembered.
			if prev != nil && prev.err == nil {
				return &state{flag: prev.flag}, nil
			}
			return &state{err: err}, nil
		case err == nil && found:
			st = &state{flag: compile(def), expires: now + int64(c.ttl)}
		case err == nil:
			st = &state{expires: now + int64(c.ttl)}
		case prev != nil && prev.err == nil:
			c.logFailure(name, err)
			st = &state{flag: prev.flag, expires: now + int64(c.retryAfter)}
		default:
			c.logFailure(name, err)
			st = &state{err: err, expires: now + int64(c.retryAfter)}
		}
		return c.settle(name, e, prev, st), nil
	})
	st := v.(*state)
	return st.flag, st.err
}

// keep is how long the bounded caches keep an entry: the entry's state
// says how fresh it is, and a stale state is still served when a reload
// fails, so entries leave by eviction only.
const keep = 100 * 365 * 24 * time.Hour

// find returns the cache entry of name, nil when there is none.
func (c *Client) find(name string) *entry {
	if e, ok := c.known.Get(name); ok {
		return e
	}
	if e, ok := c.absent.Get(name); ok {
		return e
	}
	return nil
}

// settle records st, a load of name that started from entry e (nil: none)
// in state prev, and returns the state to serve. A Set or Delete through
// this Client while the read was in flight wins: its definition is newer
// than what the read saw.
func (c *Client) settle(name string, e *entry, prev, st *state) *state {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.find(name)
	switch {
	case e == nil && cur != nil, e != nil && cur != nil && cur != e:
		// Created (or replaced after an eviction) by a write meanwhile.
		if s := cur.st.Load(); s != nil {
			return s
		}
		e = cur
	case e == nil:
		e = &entry{}
		e.st.Store(st)
		c.place(name, e, st)
		return st
	}
	if !e.st.CompareAndSwap(prev, st) {
		if s := e.st.Load(); s != nil {
			return s
		}
	}
	c.place(name, e, st) // back in the cache if evicted meanwhile, moved if its kind changed
	return st
}

// place puts name's entry in the cache for its state: known for a flag,
// absent otherwise. c.mu must be held.
func (c *Client) place(name string, e *entry, st *state) {
	if st.flag != nil {
		c.known.Set(name, e, keep)
		c.absent.Delete(name)
		return
	}
	c.absent.Set(name, e, keep)
	c.known.Delete(name)
}

// snapshot returns the current all-flags snapshot, reloading it when it has
// expired. The returned error is the load's when no snapshot exists.
func (c *Client) snapshot(ctx context.Context, now int64) (*snapshot, error) {
	if s := c.all.Load(); s != nil && now < s.expires {
		return s, nil
	}
	v, _, _ := c.sfAll.Do("", func() (any, error) {
		prev := c.all.Load()
		if prev != nil && c.nanos() < prev.expires {
			return prev, nil
		}
		m, err := c.fetchAll(ctx)
		now := c.nanos()
		var s *snapshot
		switch {
		case err != nil && ctx.Err() != nil: // the caller gave up; remember nothing
			if prev != nil && prev.loaded {
				return prev, nil
			}
			return &snapshot{err: err}, nil
		case err == nil:
			s = &snapshot{flags: make(map[string]*compiled, len(m)), expires: now + int64(c.ttl), loaded: true}
			for name, def := range m {
				s.flags[name] = compile(def)
			}
		case prev != nil && prev.loaded:
			c.logFailure("", err)
			s = &snapshot{flags: prev.flags, expires: now + int64(c.retryAfter), loaded: true}
		default:
			c.logFailure("", err)
			s = &snapshot{err: err, expires: now + int64(c.retryAfter)}
		}
		c.all.Store(s)
		return s, nil
	})
	return v.(*snapshot), nil
}

// fetchAll lists the prefix and reads every definition in bulk.
func (c *Client) fetchAll(ctx context.Context) (map[string]Flag, error) {
	keys, err := c.store.ListAll(ctx, kv.ListOptions{})
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return map[string]Flag{}, nil
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	return c.store.GetMany(ctx, names)
}

// validName checks that name makes a valid KV key with the prefix, before
// any KV call.
func (c *Client) validName(name string) error { return ValidateName(c.prefix, name) }

// ValidateName reports whether name is a valid flag name under prefix: not
// empty, and prefix+name a valid KV key. The error wraps kv.ErrInvalidKey.
// Set, Delete and Lookup check it before any KV call; tools can check it
// without one.
func ValidateName(prefix, name string) error {
	if name == "" {
		return &kv.Error{Op: "flag", Key: prefix, Err: fmt.Errorf("%w: empty flag name", kv.ErrInvalidKey)}
	}
	if err := kv.ValidateKey(prefix + name); err != nil {
		return &kv.Error{Op: "flag", Key: prefix + name, Err: err}
	}
	return nil
}

// logFailure logs a failed load, at most once per LogEvery.
func (c *Client) logFailure(name string, err error) {
	now := c.now()
	c.logMu.Lock()
	if !c.lastLog.IsZero() && now.Sub(c.lastLog) < c.logEvery {
		c.suppressed++
		c.logMu.Unlock()
		return
	}
	n := c.suppressed
	c.lastLog, c.suppressed = now, 0
	c.logMu.Unlock()
	attrs := []any{slog.String("prefix", c.prefix), slog.Any("error", err), slog.Int("suppressed", n)}
	if name != "" {
		attrs = append(attrs, slog.String("flag", name))
	}
	c.log.Warn("flags: loading flag definitions failed; serving the last known ones", attrs...)
}
