package flags

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/kvkit/kvkit/internal/coarse"
	"github.com/kvkit/kvkit/kv"
)

// Options configures a Client. The zero value is valid.
type Options struct {
	// Prefix is the key prefix of flag definitions: flag "new-ui" is stored
	// under Prefix+"new-ui". Optional. Default: "flag:" (the recipe's).
	Prefix string
	// CacheTTL is how long the definitions loaded together (and so the
	// absence of any other flag) are served from memory before the next
	// evaluation reloads them all.
	// Optional. Default: 30s (the recipe's cacheTtl).
	CacheTTL time.Duration
	// RetryAfter is how long a failed load is remembered: the last known
	// definitions (or, when none were ever loaded, the error) are served
	// for this long before the next attempt, so a KV outage is not hammered.
	// Optional. Default: 5s, at most CacheTTL.
	RetryAfter time.Duration
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
	bulk       kv.BulkNamespace // nil when the namespace has no bulk reads
	prefix     string
	ttl        time.Duration
	retryAfter time.Duration
	now        func() time.Time // the Clock option
	nanos      func() int64     // now, as nanoseconds since base: cheaper on the hot path
	base       time.Time
	log        *slog.Logger
	logEvery   time.Duration

	// all is what evaluations read: one atomic load and a map lookup.
	// Snapshots are immutable; a new one replaces the current under mu.
	all atomic.Pointer[snapshot]
	sf  singleflight.Group // one reload at a time

	mu sync.Mutex // serialises replacing all, and guards the fields below
	// While a reload runs (loading), writes holds this Client's writes
	// since it started, which it may have missed: replayed onto its result.
	loading bool
	writes  []write

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed int
}

// snapshot is one load of every flag under the prefix, plus this Client's
// writes since.
type snapshot struct {
	// flags maps each flag name to its definition, as listed and read
	// (writes folded in). A name not in it (nor in over) is not a flag.
	flags map[string]ref
	// over holds this Client's recent writes (a zero ref: deleted),
	// checked first.
	// It is copied on each write and folded into flags once it outgrows
	// foldAt, so a write never copies all flags, yet over stays small.
	over map[string]ref
	// bad holds the names whose stored definition could not be decoded
	// (and that no earlier load knew): each evaluates off, with its error.
	bad     map[string]error
	expires int64 // Client.nanos time
	err     error // the failed load's, when nothing was ever loaded
	loaded  bool  // flags came from a successful load at some point
}

// write is one Set or Delete through the Client: f nil for a delete.
type write struct {
	name string
	f    ref
}

// New returns a Client over ns. It fails with kv.ErrInvalidOptions for a nil
// namespace, a bad prefix or negative durations.
func New(ns kv.Namespace, opts Options) (*Client, error) {
	if opts.CacheTTL < 0 || opts.RetryAfter < 0 || opts.LogEvery < 0 {
		return nil, fmt.Errorf("flags: %w: negative CacheTTL, RetryAfter or LogEvery", kv.ErrInvalidOptions)
	}
	c := &Client{
		prefix:     opts.Prefix,
		ttl:        opts.CacheTTL,
		retryAfter: opts.RetryAfter,
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
	store, err := kv.New[Flag](ns, kv.Options{Prefix: c.prefix, Clock: c.now, Codec: codec{}})
	if err != nil {
		return nil, err
	}
	c.store = store
	c.bulk, _ = ns.(kv.BulkNamespace)
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
	if f.c == nil && err != nil {
		return Decision{Reason: ReasonError}, err
	}
	return f.evaluate(name, userID), nil
}

// Get returns the definition of flag name as the Client currently serves it
// (from memory within the cache TTL; [Client.List] reads KV afresh). found
// is false for a missing flag. The slices in the result are shared with the
// cache: do not modify them.
func (c *Client) Get(ctx context.Context, name string) (f Flag, found bool, err error) {
	r, err := c.lookup(ctx, name)
	if r.c == nil {
		return Flag{}, false, err
	}
	return r.c.def, true, nil
}

// lookup returns the definition to serve for name: nil when absent. err is
// set for an invalid name, and when the definitions were never loaded and
// the last load failed.
func (c *Client) lookup(ctx context.Context, name string) (ref, error) {
	s := c.all.Load()
	if s == nil || c.nanos() >= s.expires {
		if err := c.validName(name); err != nil {
			return ref{}, err // before any KV call
		}
		s = c.snapshot(ctx)
	}
	if s.over != nil {
		if f, ok := s.over[name]; ok {
			return f, nil
		}
	}
	if f, ok := s.flags[name]; ok {
		return f, nil
	}
	if err := c.validName(name); err != nil {
		return ref{}, err
	}
	if err, ok := s.bad[name]; ok {
		return ref{}, err
	}
	if !s.loaded {
		return ref{}, s.err
	}
	return ref{}, nil
}

// snapshot returns the current snapshot, reloading every definition first
// when it has expired (one reload for all concurrent callers). The result
// is never nil; its err is set when nothing was ever loaded.
func (c *Client) snapshot(ctx context.Context) *snapshot {
	v, _, _ := c.sf.Do("", func() (any, error) {
		if s := c.all.Load(); s != nil && c.nanos() < s.expires {
			return s, nil // reloaded by a caller that just finished
		}
		c.mu.Lock()
		c.loading, c.writes = true, nil
		c.mu.Unlock()
		m, bad, err := c.fetchAll(ctx)
		now := c.nanos()

		c.mu.Lock()
		defer c.mu.Unlock()
		writes := c.writes
		c.loading, c.writes = false, nil
		prev := c.all.Load()
		if prev == nil {
			prev = &snapshot{}
		}
		var s *snapshot
		switch {
		case err != nil && ctx.Err() != nil:
			// The caller gave up: that says nothing about KV, so nothing
			// is remembered; its waiters get what is known, or the error.
			s := *prev
			if !s.loaded {
				s.err = err
			}
			return &s, nil
		case err == nil:
			// Writes the listing may have missed win: they are newer.
			for _, w := range writes {
				if w.f.c == nil {
					delete(m, w.name)
				} else {
					m[w.name] = w.f
				}
			}
			// A definition that cannot be decoded fails only its own flag:
			// the last known definition is served if there was one, else
			// the flag is off with the error.
			var errs []error
			for name, e := range bad {
				errs = append(errs, e)
				if f, ok := prev.flags[name]; ok {
					m[name] = f
					delete(bad, name)
				}
			}
			if len(errs) > 0 {
				c.logFailure(errors.Join(errs...))
			}
			s = &snapshot{flags: m, bad: bad, expires: now + int64(c.ttl), loaded: true}
		default:
			c.logFailure(err)
			s = &snapshot{flags: prev.flags, over: prev.over, expires: now + int64(c.retryAfter), loaded: prev.loaded}
			if !s.loaded {
				s.err = err
			}
		}
		c.all.Store(s)
		return s, nil
	})
	return v.(*snapshot)
}

// remember makes a definition this Client just wrote (nil: deleted) the one
// it serves, at once. c.all always holds a snapshot afterwards.
func (c *Client) remember(name string, f ref) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loading {
		c.writes = append(c.writes, write{name: name, f: f})
	}
	prev := c.all.Load()
	if prev == nil {
		prev = &snapshot{expires: math.MinInt64} // expired: the next evaluation loads the rest
	}
	s := *prev
	if len(s.over)+1 > foldAt(len(s.flags)) {
		s.flags = fold(s.flags, s.over, len(s.over)+1)
		s.over = nil
		if f.c == nil {
			delete(s.flags, name)
		} else {
			s.flags[name] = f
		}
	} else {
		over := make(map[string]ref, len(s.over)+1)
		for k, v := range s.over {
			over[k] = v
		}
		over[name] = f
		s.over = over
	}
	c.all.Store(&s)
}

// foldAt is the most writes over holds before they are folded into a copy
// of flags: about the square root of the flags, which keeps the cost of a
// write (copying over, and now and then flags) near its minimum.
func foldAt(n int) int { return max(8, int(math.Sqrt(float64(n)))) }

// fold returns a copy of flags with over applied.
func fold(flags, over map[string]ref, extra int) map[string]ref {
	m := make(map[string]ref, len(flags)+extra)
	for k, v := range flags {
		m[k] = v
	}
	for k, v := range over {
		if v.c == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// fetchAll lists the prefix and reads every definition in bulk (one bulk
// read per kv.MaxBulkGet keys), compiled. Definitions that cannot be
// decoded are left out of the map and returned in bad (nil when none), each
// with its error wrapping kv.ErrCodec.
func (c *Client) fetchAll(ctx context.Context) (m map[string]ref, bad map[string]error, err error) {
	keys, err := c.store.ListAll(ctx, kv.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	// The names are copied into one string, so that the map's keys sit
	// together in memory rather than one allocation each: with many flags,
	// a lookup then mostly hits the CPU cache.
	size := 0
	for _, k := range keys {
		size += len(k.Name)
	}
	var b strings.Builder
	b.Grow(size)
	for _, k := range keys {
		b.WriteString(k.Name)
	}
	all := b.String()
	names := make([]string, 0, len(keys))
	at := 0
	for _, k := range keys {
		if k.Name != "" { // the bare prefix is no flag
			names = append(names, all[at:at+len(k.Name)])
		}
		at += len(k.Name)
	}
	m = make(map[string]ref, len(names))
	if len(names) == 0 {
		return m, nil, nil
	}
	if c.bulk == nil {
		defs, err := c.store.GetMany(ctx, names)
		if err != nil {
			return nil, nil, err
		}
		for _, name := range names {
			if def, ok := defs[name]; ok { // a flag deleted since the listing is absent
				m[name] = refOf(compile(def))
			}
		}
		return m, nil, nil
	}
	// The bulk reads by hand, a few at a time as kv.Store.GetMany makes
	// them, but compiled as they come, without GetMany's maps.
	chunks := slices.Collect(slices.Chunk(names, kv.MaxBulkGet))
	got := make([][]ref, len(chunks))
	var badMu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bulkReads)
	for i, chunk := range chunks {
		g.Go(func() error {
			full := make([]string, len(chunk))
			for j, name := range chunk {
				full[j] = c.prefix + name
			}
			items, err := c.bulk.GetBulk(gctx, full, kv.GetOptions{})
			if err != nil {
				var e *kv.Error
				if errors.As(err, &e) {
					return err
				}
				return &kv.Error{Op: "get-many", Err: err}
			}
			refs := make([]ref, len(chunk))
			for j := range chunk {
				it, found := items[full[j]]
				if !found {
					continue // deleted since the listing: absent
				}
				var f Flag
				if err := (codec{}).Unmarshal(it.Value, &f); err != nil {
					badMu.Lock()
					if bad == nil {
						bad = map[string]error{}
					}
					bad[chunk[j]] = &kv.Error{Op: "get", Key: full[j], Err: errors.Join(kv.ErrCodec, err)}
					badMu.Unlock()
					continue
				}
				refs[j] = refOf(compile(f))
			}
			got[i] = refs
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	for i, chunk := range chunks {
		for j, name := range chunk {
			if r := got[i][j]; r.c != nil {
				m[name] = r
			}
		}
	}
	return m, bad, nil
}

// bulkReads is how many bulk reads a load has in flight, as for
// kv.Store.GetMany by default.
const bulkReads = 8

// validName checks that name makes a valid KV key with the prefix, without
// allocating when it does.
func (c *Client) validName(name string) error {
	// The prefix is valid UTF-8 (kv.New checks it), so prefix+name is
	// when name is; "." and ".." need an empty prefix, which New replaces.
	if name != "" && len(c.prefix)+len(name) <= kv.MaxKeySize && utf8.ValidString(name) {
		return nil
	}
	return ValidateName(c.prefix, name)
}

// ValidateName reports whether name is a valid flag name under prefix: not
// empty, and prefix+name a valid KV key. The error wraps kv.ErrInvalidKey.
// Set, Delete and the evaluations check it before any KV call; tools can check it
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
func (c *Client) logFailure(err error) {
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
	c.log.Warn("flags: loading flag definitions failed; serving the last known ones",
		slog.String("prefix", c.prefix), slog.Any("error", err), slog.Int("suppressed", n))
}
