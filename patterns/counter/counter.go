package counter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/kvkit/kvkit/internal/coarse"
	"github.com/kvkit/kvkit/kv"
)

// Mode selects how a Counter writes to KV. See the package documentation for
// the accuracy of each mode.
type Mode int

const (
	// Coalesced (the default) counts in process and lets a flusher write each
	// dirty key at most once per flush interval: read the stored value (when
	// the last read is older than the interval), add the pending delta,
	// write. Exact with a single writer per key; with several writers sharing
	// a key, updates made within KV's propagation delay can be lost.
	Coalesced Mode = iota
	// Sharded gives each instance its own key per counter,
	// prefix + name + ":" + Instance, so instances never overwrite each
	// other. Reads sum the shards with one listing (each shard carries its
	// value in its metadata), cached for the flush interval. A key
	// prefix+name+":"+x counts as a shard of name when x has no ':', so
	// avoid naming one counter "<another counter>:<word>".
	Sharded
	// Direct does what the TypeScript recipe does on every Increment: read,
	// add, write. Two KV calls per increment, no goroutine, and lost updates
	// under concurrency; it exists for parity with the recipe.
	Direct
)

func (m Mode) String() string {
	switch m {
	case Coalesced:
		return "coalesced"
	case Sharded:
		return "sharded"
	case Direct:
		return "direct"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

const (
	// DefaultPrefix is the key prefix of counters, as in the TypeScript recipe.
	DefaultPrefix = "count:"
	// DefaultFlushInterval is how often a dirty key is written at most.
	DefaultFlushInterval = time.Second
	// MinFlushInterval is the shortest flush interval: KV accepts about one
	// write per second per key.
	MinFlushInterval = time.Second
	// DefaultKeepIdle is how long a clean counter stays in process after its
	// last use.
	DefaultKeepIdle = time.Minute
)

// counterError is the type of the package's sentinel errors.
type counterError string

func (e counterError) Error() string { return string(e) }

// ErrClosed is returned by calls on a closed Counter or Limiter.
const ErrClosed counterError = "counter: closed"

// Options configures a Counter. The zero value is valid: coalesced writes of
// "count:"-prefixed keys, flushed at most once a second.
type Options struct {
	// Prefix is prepended to every counter name. Default: "count:".
	Prefix string
	// Mode selects Coalesced, Sharded or Direct writes. Default: Coalesced.
	Mode Mode
	// Instance names this process in Sharded mode: its shard of counter n is
	// Prefix + n + ":" + Instance. It must be unique among the processes
	// sharing the namespace, stable across restarts, and free of ':'.
	// Required in Sharded mode; ignored otherwise.
	Instance string
	// SingleWriter declares, in Coalesced mode, that this process is the
	// only writer of its counters' keys: it then never reads a key again
	// once known, and never reads before writing (a flush is one write).
	// Another writer's updates are overwritten. Default: false.
	SingleWriter bool
	// FlushInterval is the shortest time between two writes of one key, and
	// how long a read value is trusted before it is read again. At least
	// MinFlushInterval. Default: 1 s.
	FlushInterval time.Duration
	// TTL is the expiration TTL of every write (whole seconds, at least
	// kv.MinTTL). Default: none, counters never expire.
	TTL time.Duration
	// KeepIdle is how long a counter with nothing pending stays in memory
	// after its last use before the flusher drops it (the next use reads it
	// again). Default: 1 minute, and never under twice FlushInterval.
	KeepIdle time.Duration
	// FlushTimeout bounds each background flush. Default: 10 s.
	FlushTimeout time.Duration
	// Clock returns the current time. Default: time.Now to within about a
	// millisecond, read from a clock a goroutine refreshes while it is in
	// use (an atomic load, where time.Now would cost more than the rest of
	// an Increment).
	Clock func() time.Time
	// Tick drives the background flusher: every value received flushes the
	// keys whose last write is at least FlushInterval old as of the value
	// received (not as of the moment the flush runs, so a test that sends
	// ticks and moves Clock decides deterministically). A zero time flushes
	// nothing: once it is received, the flush before it has ended, which is
	// how a test waits for a flush. Tests send on it instead of waiting.
	// Default: a time.Ticker every FlushInterval/2, whose flushes decide by
	// Clock.
	Tick <-chan time.Time
	// Logger receives background flush failures, at most one record per
	// FlushInterval×10 with a count of the ones left out. Default:
	// slog.Default().
	Logger *slog.Logger
}

// Counter is a set of approximate counters stored as decimal text in a KV
// namespace, readable and writable by a TypeScript Worker using the recipe
// (parseInt of the text, add, String). It is safe for concurrent use. In
// Coalesced and Sharded modes it runs one flusher goroutine: call Close to
// write what is pending and stop it.
type Counter struct {
	store    *kv.Store[int64]
	mode     Mode
	single   bool
	instance string
	interval time.Duration
	keepIdle time.Duration
	timeout  time.Duration
	now      func() int64 // Unix nanoseconds of Clock
	coarse   bool         // now is coarse.Now (no Clock given)
	keyExtra int          // bytes of a key besides the name: the prefix, and ":"+Instance in Sharded mode
	clock    func() time.Time
	log      *throttledLog

	idx   index
	loads singleflight.Group

	flushMu   sync.Mutex
	syncErr   atomic.Pointer[error] // the last flush's KV failure; nil after a flush whose calls all succeeded
	closed    atomic.Bool
	stopOnce  sync.Once
	stop      chan struct{}
	done      chan struct{}
	hasFlushr bool
}

// entry is the in-process state of one counter. Guarded by mu. Times are
// Unix nanoseconds of Clock, 0 for none. The fields an Increment reads come
// first, on one cache line.
type entry struct {
	mu   sync.Mutex
	dead atomic.Bool // evicted: set under mu; whoever finds it looks the name up again

	known    bool  // stored has been read or written
	stored   int64 // last known stored value (this instance's shard in Sharded mode)
	pending  int64 // increments not yet written
	others   int64 // Sharded: sum of the other shards at othersAt
	syncedAt int64 // when stored was last read or written
	usedAt   int64 // last Increment or Get, for eviction
	othersAt int64
	wroteAt  int64  // end of the last write; 0 when never written
	gen      uint64 // moves on every write and reset: a read that started before must not land

	failUntil int64 // after a failed read, no new read before this
	lastErr   error

	// want: a read was asked for and not waited for (addOptions.deferRead):
	// the next flush reads the key.
	want bool

	// unsure: the last write failed in a way that may have landed (a
	// transport error, a timeout, a 5xx). stored is the value that write
	// was based on: the next write is stored + pending, the same absolute
	// value plus what was counted since, with no read before it, and no
	// read replaces stored until a write succeeds. Otherwise a read after
	// the interval would see the landed value and add the same delta again.
	unsure bool
}

func (e *entry) value() int64 { return e.others + e.stored + e.pending }

// lockLive returns the live entry of name, locked.
func (c *Counter) lockLive(name string) *entry {
	return c.lockLiveFrom(name, (*c.idx.read.Load())[name])
}

// lockLiveFrom is lockLive given the read map's entry for name (nil if
// none).
// Small enough to be inlined: a known live entry costs no call.
func (c *Counter) lockLiveFrom(name string, e *entry) *entry {
	if e != nil {
		e.mu.Lock()
		if !e.dead.Load() {
			return e
		}
		e.mu.Unlock()
	}
	return c.lockFromIndex(name)
}

// lockFromIndex locks name's live entry, found or made in the index.
func (c *Counter) lockFromIndex(name string) *entry {
	for {
		e := c.idx.get(name)
		e.mu.Lock()
		if !e.dead.Load() {
			return e
		}
		e.mu.Unlock()
	}
}

// New returns a Counter over ns. It fails with an error wrapping
// kv.ErrInvalidOptions for bad options, and starts the flusher in Coalesced
// and Sharded modes.
func New(ns kv.Namespace, opts Options) (*Counter, error) {
	if ns == nil {
		return nil, invalid("namespace is nil")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.FlushInterval < MinFlushInterval {
		return nil, invalid("FlushInterval " + opts.FlushInterval.String() + " is under 1s: KV takes one write per second per key")
	}
	switch opts.Mode {
	case Coalesced, Direct:
	case Sharded:
		if opts.Instance == "" || strings.Contains(opts.Instance, ":") {
			return nil, invalid("Sharded mode needs an Instance name without ':'")
		}
	default:
		return nil, invalid("unknown mode " + opts.Mode.String())
	}
	if opts.KeepIdle < 0 || opts.FlushTimeout < 0 {
		return nil, invalid("negative KeepIdle or FlushTimeout")
	}
	if opts.KeepIdle == 0 {
		opts.KeepIdle = DefaultKeepIdle
	}
	opts.KeepIdle = max(opts.KeepIdle, 2*opts.FlushInterval)
	if opts.FlushTimeout == 0 {
		opts.FlushTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	store, err := kv.New[int64](ns, kv.Options{Prefix: opts.Prefix, DefaultTTL: opts.TTL, Codec: kv.Text, Clock: opts.Clock})
	if err != nil {
		return nil, err
	}
	nowNs, useCoarse := coarse.Now, opts.Clock == nil // time.Now costs ~50 ns, more than an Increment should
	if opts.Clock == nil {
		opts.Clock = coarseNow
	} else {
		clock := opts.Clock
		nowNs = func() int64 { return unixNano(clock()) }
	}
	c := &Counter{
		store:    store,
		mode:     opts.Mode,
		single:   opts.SingleWriter && opts.Mode == Coalesced,
		instance: opts.Instance,
		interval: opts.FlushInterval,
		keepIdle: opts.KeepIdle,
		timeout:  opts.FlushTimeout,
		now:      nowNs,
		coarse:   useCoarse,
		clock:    opts.Clock,
		log:      &throttledLog{log: opts.Logger, every: 10 * opts.FlushInterval, now: opts.Clock},
	}
	c.idx.init()
	c.keyExtra = len(opts.Prefix)
	if c.mode == Sharded {
		c.keyExtra += 1 + len(c.instance)
	}
	if c.mode != Direct {
		c.hasFlushr = true
		c.stop, c.done = make(chan struct{}), make(chan struct{})
		tick, stopTicker, tickTime := opts.Tick, func() {}, true
		if tick == nil {
			t := time.NewTicker(c.interval / 2)
			tick, stopTicker, tickTime = t.C, t.Stop, false
		}
		go c.run(tick, stopTicker, tickTime)
	}
	return c, nil
}

// syncFailure returns the error of the last flush when its KV calls failed.
func (c *Counter) syncFailure() error {
	if p := c.syncErr.Load(); p != nil {
		return *p
	}
	return nil
}

func invalid(msg string) error {
	return &kv.Error{Op: "counter", Err: errors.Join(kv.ErrInvalidOptions, errors.New(msg))}
}

// Mode returns the Counter's mode.
func (c *Counter) Mode() Mode { return c.mode }

// FlushInterval returns the Counter's flush interval.
func (c *Counter) FlushInterval() time.Duration { return c.interval }

// key returns the full name written for name (without the Store prefix).
func (c *Counter) key(name string) string {
	if c.mode == Sharded {
		return name + ":" + c.instance
	}
	return name
}

// validate checks name before any call: the longest key it produces must be
// a valid KV key.
func (c *Counter) validate(op, name string) error {
	if n := c.keyExtra + len(name); n > 2 && n <= kv.MaxKeySize && utf8.ValidString(name) {
		return nil // non-empty, not "." or "..", short enough, UTF-8: valid
	}
	full := c.store.Prefix() + name
	if c.mode == Sharded {
		full += ":" + c.instance
	}
	if err := kv.ValidateKey(full); err != nil {
		return &kv.Error{Op: op, Key: full, Err: err}
	}
	return nil
}

// coarseNow is the default clock: internal/coarse's time, within ~1 ms.
func coarseNow() time.Time { return time.Unix(0, coarse.Now()) }

// unixNano returns t in Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Increment adds delta to the counter name and returns its approximate
// value: the last known stored value plus what this process has not written
// yet (plus the other shards' last known sum in Sharded mode). In Coalesced
// and Sharded modes it makes no KV call once the counter is known; the first
// use (and the first after FlushInterval without increments) reads it.
//
// If that read fails the delta is still kept and written later; the value
// then counts only what is known, and the error (wrapping the backend's) is
// returned. Repeated calls do not retry the read before FlushInterval.
func (c *Counter) Increment(ctx context.Context, name string, delta int64) (int64, error) {
	// A name in the read map was validated when its entry was made (every
	// path that makes one validates first): only new names are checked.
	known := (*c.idx.read.Load())[name]
	if known == nil {
		if err := c.validate("increment", name); err != nil {
			return 0, err
		}
	}
	if c.mode == Direct {
		return c.direct(ctx, name, delta)
	}
	var now int64
	if c.coarse {
		now = coarse.Now() // a direct call: cheaper than through c.now
	} else {
		now = c.now()
	}
	// The common case, a known counter: what add does without a read.
	e := c.lockLiveFrom(name, known)
	if !c.closed.Load() && c.fresh(e, now) {
		e.usedAt = now
		e.pending += delta
		v := e.value()
		e.mu.Unlock()
		return v, nil
	}
	e.mu.Unlock()
	v, _, err := c.add(ctx, name, delta, now, addOptions{})
	return v, err
}

// Get returns the approximate value of the counter name, as Increment does,
// without changing it. A counter that was never written is 0.
func (c *Counter) Get(ctx context.Context, name string) (int64, error) {
	if err := c.validate("get", name); err != nil {
		return 0, err
	}
	if c.mode == Direct {
		v, _, err := c.store.Get(ctx, name)
		return v, err
	}
	v, _, err := c.add(ctx, name, 0, c.now(), addOptions{})
	return v, err
}

// direct is the recipe: read, add, write.
func (c *Counter) direct(ctx context.Context, name string, delta int64) (int64, error) {
	if c.closed.Load() {
		return 0, ErrClosed
	}
	v, _, err := c.store.Get(ctx, name)
	if err != nil {
		return 0, err
	}
	v += delta
	if err := c.store.Put(ctx, name, v); err != nil {
		return 0, err
	}
	return v, nil
}

// fresh reports whether e can answer without a read at now.
func (c *Counter) fresh(e *entry, now int64) bool {
	if c.mode == Sharded {
		return e.known && time.Duration(now-e.othersAt) < c.interval
	}
	// A dirty key is synced by the flusher every interval; a clean one is
	// read again when its value is older than the interval. An unsure one
	// is not read at all until a write succeeds.
	return e.known && (c.single || e.pending != 0 || e.unsure || time.Duration(now-e.syncedAt) < c.interval)
}

// settled reports whether e was synced at or after settled (not zero).
func (c *Counter) settled(e *entry, settled int64) bool {
	if settled == 0 || !e.known {
		return false
	}
	if c.mode == Sharded {
		return e.othersAt >= settled
	}
	return e.syncedAt >= settled
}

// addOptions are the variants of add.
type addOptions struct {
	// allow, when not nil, is asked whether delta may be added to the
	// current value.
	allow func(cur int64) bool
	// settled: a counter that no longer changes (a past rate-limit
	// window) is settled; when not zero, a value synced at or after it is
	// used however old it is.
	settled int64 // Unix nanoseconds
	// deferRead: never wait for KV. A value that needs a read is answered
	// from what is known (0 for an unknown key) and read by the next
	// flush, in bulk with the others.
	deferRead bool
	// zeroIfUnknown: an unknown key is known to be 0 (this process is its
	// only writer and was counting before its window started).
	zeroIfUnknown bool
	// deadline bounds the reads made while the caller waits (zero: none),
	// in Unix nanoseconds of the real time, not the Clock's: it is a
	// context deadline. An integer, not a time.Time: its location pointer,
	// passed to context.WithDeadline, made the whole addOptions (allow's
	// closure with it) escape, one allocation per rate-limit decision.
	deadline int64
}

// add adds delta to name (if o.allow accepts the current value) and
// returns the value after the call and whether delta was added. now is the
// caller's reading of the clock.
func (c *Counter) add(ctx context.Context, name string, delta int64, now int64, o addOptions) (int64, bool, error) {
	var err error
	e := c.lockLive(name)
	for tries := 0; ; tries++ {
		if c.closed.Load() {
			e.mu.Unlock()
			return 0, false, ErrClosed
		}
		e.usedAt = now
		if tries == 0 && !c.fresh(e, now) && !c.settled(e, o.settled) {
			switch {
			case o.zeroIfUnknown && !e.known:
				e.known, e.syncedAt = true, now
			case now < e.failUntil:
				err = e.lastErr // still backing off: answer from what is known
			case o.deferRead:
				e.want = true
				err = e.lastErr // the last read of this key failed
				if err == nil && !e.known {
					err = c.syncFailure() // nil unless the last sync failed
				}
			default:
				e.mu.Unlock()
				lctx, cancel := ctx, context.CancelFunc(nil)
				if o.deadline != 0 {
					lctx, cancel = context.WithDeadline(ctx, time.Unix(0, o.deadline))
				}
				err = c.load(lctx, name)
				if cancel != nil {
					cancel()
				}
				e = c.lockLive(name)
				continue
			}
		}
		cur := e.value()
		if o.allow != nil && !o.allow(cur) {
			e.mu.Unlock()
			return cur, false, err
		}
		e.pending += delta
		e.mu.Unlock()
		return cur + delta, true, err
	}
}

// load reads name (or, in Sharded mode, lists its shards) once for all
// callers waiting on it, and records the result in its entry.
func (c *Counter) load(ctx context.Context, name string) error {
	_, err, _ := c.loads.Do(name, func() (any, error) {
		e := c.lockLive(name)
		gen := e.gen
		start := c.now()
		if c.fresh(e, start) {
			// Another caller's read finished between our check and now.
			e.mu.Unlock()
			return nil, nil
		}
		e.mu.Unlock()

		var own, others int64
		var ownFound bool
		var err error
		if c.mode == Sharded {
			own, ownFound, others, err = c.readShards(ctx, name)
		} else {
			own, ownFound, err = c.store.Get(ctx, name)
		}

		e.mu.Lock()
		defer e.mu.Unlock()
		if e.dead.Load() {
			return nil, err // evicted meanwhile: a later use reads again
		}
		if err != nil {
			e.failUntil, e.lastErr = c.now()+int64(c.interval), err
			c.log.error("counter: read failed", "key", c.store.Prefix()+name, "err", err)
			return nil, err
		}
		e.failUntil, e.lastErr, e.want = 0, nil, false
		switch {
		case e.gen != gen:
			// A write landed meanwhile: what was read is older than it.
		case e.unsure:
			// A write may have landed unseen: what was read cannot be
			// told apart from it (see entry.unsure).
		case c.mode != Sharded || !e.known:
			e.stored, e.known, e.syncedAt = own, true, start
		case !ownFound && time.Duration(start-e.wroteAt) >= c.interval:
			// This instance writes its own shard alone, so its local value
			// wins over a listing that may lag behind; but a shard gone from
			// the listing well after our last write was reset elsewhere.
			e.stored, e.syncedAt = 0, start
		}
		if c.mode == Sharded {
			e.others, e.othersAt = others, start
		}
		return nil, nil
	})
	return err
}

// shardMeta is the metadata each shard carries, so that one listing sums a
// counter without reading every shard.
type shardMeta struct {
	N *int64 `json:"n"`
}

// readShards lists the shards of name: the plain key prefix+name (written by
// a Worker or an unsharded process) and every prefix+name+":"+instance. It
// returns this instance's shard and the sum of the others.
func (c *Counter) readShards(ctx context.Context, name string) (own int64, ownFound bool, others int64, err error) {
	ownKey := c.key(name)
	var unread []string
	for k, err := range c.store.Keys(ctx, kv.ListOptions{Prefix: name}) {
		if err != nil {
			return 0, false, 0, err
		}
		rest := k.Name[len(name):]
		if rest != "" && (rest[0] != ':' || strings.Contains(rest[1:], ":") || len(rest) == 1) {
			continue // another counter whose name starts with name
		}
		var m shardMeta
		if len(k.Metadata) == 0 || json.Unmarshal(k.Metadata, &m) != nil || m.N == nil {
			unread = append(unread, k.Name)
			continue
		}
		if k.Name == ownKey {
			own, ownFound = *m.N, true
		} else {
			others += *m.N
		}
	}
	if len(unread) > 0 {
		vals, err := c.store.GetMany(ctx, unread)
		if err != nil {
			return 0, false, 0, err
		}
		for k, v := range vals {
			if k == ownKey {
				own, ownFound = v, true
			} else {
				others += v
			}
		}
	}
	return own, ownFound, others, nil
}

// Reset sets the counter name to zero by deleting its key (all its shards in
// Sharded mode: other instances' pending increments will still be written
// by them), and drops this process's pending delta. A deleted counter reads
// as 0, as in the recipe.
func (c *Counter) Reset(ctx context.Context, name string) error {
	if err := c.validate("reset", name); err != nil {
		return err
	}
	if c.mode == Direct {
		return c.store.Delete(ctx, name)
	}
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	var err error
	if c.mode == Sharded {
		keys := []string{c.key(name)}
		for k, lerr := range c.store.Keys(ctx, kv.ListOptions{Prefix: name}) {
			if lerr != nil {
				return lerr
			}
			rest := k.Name[len(name):]
			if k.Name != keys[0] && (rest == "" || (rest[0] == ':' && !strings.Contains(rest[1:], ":"))) {
				keys = append(keys, k.Name)
			}
		}
		err = c.store.DeleteMany(ctx, keys)
	} else {
		err = c.store.Delete(ctx, name)
	}
	if err != nil {
		return err
	}
	now := c.now()
	e := c.lockLive(name)
	defer e.mu.Unlock()
	e.stored, e.known, e.syncedAt, e.pending, e.wroteAt, e.usedAt = 0, true, now, 0, now, now
	e.others, e.othersAt, e.failUntil, e.lastErr, e.want, e.unsure = 0, now, 0, nil, false, false
	e.gen++
	return nil
}
