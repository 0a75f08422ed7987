package kv

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/kvkit/kvkit/internal/lcache"
)

// Options configures a Store. The zero value is valid: no prefix, no default
// TTL, no read cache, JSON values.
type Options struct {
	// Prefix is prepended to every key the Store sends and stripped from
	// every key it lists (e.g. "user:"). Optional. Default: none.
	Prefix string
	// DefaultTTL is the expiration TTL of writes that set neither a TTL nor
	// an expiration. Whole seconds, at least MinTTL. Optional. Default: none
	// (values never expire).
	DefaultTTL time.Duration
	// CacheTTL turns on the in-process read cache: values (and misses)
	// read through this Store are kept in this process's memory for
	// CacheTTL, never past the key's own expiration. Puts and deletes
	// through the same Store invalidate it at once; other processes' writes
	// are seen after at most CacheTTL. Per call: NoCache, CacheFor.
	// Optional. Default: 0 (off). Not to be confused with EdgeCacheTTL.
	CacheTTL time.Duration
	// EdgeCacheTTL is the cacheTtl of every read this Store makes (the
	// TypeScript client's defaultCacheTtl): how long Cloudflare's edge may
	// serve a read from its own cache, in the data center that made it,
	// before asking KV's central store again. Whole seconds, at least
	// MinEdgeCacheTTL (30 s). Only backends that read through a Worker's
	// binding (kv/worker) have an edge cache; kv/memory and kv/cloudflare
	// (the REST API has no cacheTtl) ignore it. Per call: NoEdgeCache,
	// EdgeCacheFor. It is independent of CacheTTL: a read missing the
	// in-process cache goes to the backend with this edge cache TTL.
	// Optional. Default: 0 (none sent: KV's default, 60 s).
	EdgeCacheTTL time.Duration
	// CacheSize bounds the read cache's entries. Optional. Default: 10,000.
	CacheSize int
	// Codec encodes values. Optional. Default: JSON.
	Codec Codec
	// Concurrency bounds the parallel single calls that GetMany, PutMany and
	// DeleteMany make on a backend without bulk endpoints, and the parallel
	// bulk calls they make on one with them. Optional. Default: 8.
	Concurrency int
	// Clock returns the current time, for expiration checks and the read
	// cache. Optional. Default: time.Now. Tests inject a fake clock.
	Clock func() time.Time
}

// Store is a typed client over a Namespace: values of type T are encoded
// with the Store's codec under the Store's prefix. A Store is safe for
// concurrent use and holds no goroutines.
type Store[T any] struct {
	ns     Namespace
	bulk   BulkNamespace // nil when ns has no bulk endpoints
	prefix string
	ttl    time.Duration
	codec  Codec
	par    int
	now    func() time.Time

	cacheTTL time.Duration
	edgeTTL  time.Duration
	cache    *lcache.Cache[string, *cached[T]] // nil when off
	// gens guards the cache against a read that started before a write and
	// finished after it: a read stores its result only if its stripe's
	// generation did not move meanwhile.
	gens [64]stripe
	seed maphash.Seed
}

type cached[T any] struct {
	v       T
	found   bool
	hasMeta bool
	meta    json.RawMessage
	exp     time.Time
}

// New returns a Store over ns. It fails with ErrInvalidOptions for a nil
// namespace, a bad prefix, default TTL or cache settings, or a codec that
// cannot encode T.
func New[T any](ns Namespace, opts Options) (*Store[T], error) {
	if ns == nil {
		return nil, &Error{Op: "new", Err: newDetail(ErrInvalidOptions, "namespace is nil")}
	}
	if len(opts.Prefix) >= MaxKeySize {
		return nil, &Error{Op: "new", Err: newDetail(ErrInvalidOptions, "prefix leaves no room for a key")}
	}
	if !utf8.ValidString(opts.Prefix) {
		return nil, &Error{Op: "new", Err: newDetail(ErrInvalidOptions, "prefix is not valid UTF-8")}
	}
	if opts.DefaultTTL != 0 {
		if err := ValidateTTL(opts.DefaultTTL); err != nil {
			return nil, &Error{Op: "new", Err: errors.Join(ErrInvalidOptions, err)}
		}
	}
	if opts.CacheTTL < 0 || opts.CacheSize < 0 || opts.Concurrency < 0 {
		return nil, &Error{Op: "new", Err: newDetail(ErrInvalidOptions, "negative CacheTTL, CacheSize or Concurrency")}
	}
	if opts.EdgeCacheTTL != 0 {
		if err := ValidateEdgeCacheTTL(opts.EdgeCacheTTL); err != nil {
			return nil, &Error{Op: "new", Err: errors.Join(ErrInvalidOptions, err)}
		}
	}
	s := &Store[T]{
		ns:       ns,
		prefix:   opts.Prefix,
		ttl:      opts.DefaultTTL,
		codec:    opts.Codec,
		par:      opts.Concurrency,
		now:      opts.Clock,
		cacheTTL: opts.CacheTTL,
		edgeTTL:  opts.EdgeCacheTTL,
		seed:     maphash.MakeSeed(),
	}
	s.bulk, _ = ns.(BulkNamespace)
	if s.codec == nil {
		s.codec = JSON
	}
	if s.par == 0 {
		s.par = 8
	}
	if s.now == nil {
		s.now = time.Now
	}
	var zero T
	if _, err := s.codec.Marshal(zero); err != nil {
		return nil, &Error{Op: "new", Err: errors.Join(ErrInvalidOptions, ErrCodec, err)}
	}
	if s.cacheTTL > 0 {
		c, err := lcache.New(lcache.Options[string, *cached[T]]{MaxEntries: opts.CacheSize, Clock: opts.Clock})
		if err != nil {
			return nil, &Error{Op: "new", Err: errors.Join(ErrInvalidOptions, err)}
		}
		s.cache = c
	}
	return s, nil
}

// Must is like New but panics on error. For package-level Stores.
func Must[T any](s *Store[T], err error) *Store[T] {
	if err != nil {
		panic(err)
	}
	return s
}

// Namespace returns the underlying namespace, for raw access.
func (s *Store[T]) Namespace() Namespace { return s.ns }

// Prefix returns the Store's key prefix.
func (s *Store[T]) Prefix() string { return s.prefix }

// ReadOption tunes one read.
type ReadOption func(*readConfig)

type readConfig struct {
	noCache  bool
	cacheTTL time.Duration
	set      bool
	edgeTTL  time.Duration // sent to the backend as GetOptions.EdgeCacheTTL
}

// NoCache makes a read skip the in-process read cache (Options.CacheTTL)
// and go to the namespace; the value it reads still refreshes the cache.
// The edge cache is another matter: see NoEdgeCache.
func NoCache() ReadOption { return noCache }

func noCache(c *readConfig) { c.noCache = true }

// CacheFor overrides the Store's in-process CacheTTL for one read (the edge
// cache's is EdgeCacheFor): a hit must be at most
// as old as the Store's setting, and a value read from the namespace is kept
// for ttl (0 = not kept).
func CacheFor(ttl time.Duration) ReadOption {
	return func(c *readConfig) { c.cacheTTL, c.set = ttl, true }
}

// NoEdgeCache makes a read as fresh as Workers KV allows: it asks the edge
// cache for its shortest TTL, MinEdgeCacheTTL (30 s), whatever the Store's
// EdgeCacheTTL (KV has no way to skip its edge cache entirely). It does not
// touch the in-process read cache: add NoCache for that. Backends without
// an edge cache ignore it.
func NoEdgeCache() ReadOption { return noEdgeCache }

func noEdgeCache(c *readConfig) { c.edgeTTL = MinEdgeCacheTTL }

// EdgeCacheFor overrides the Store's EdgeCacheTTL for one read: the edge may
// serve it from its cache for up to ttl (whole seconds, at least
// MinEdgeCacheTTL; anything else fails the read with ErrInvalidTTL before
// any request). It does not touch the in-process read cache (see CacheFor).
// Backends without an edge cache ignore it.
func EdgeCacheFor(ttl time.Duration) ReadOption {
	return func(c *readConfig) { c.edgeTTL = ttl }
}

func (s *Store[T]) readConfig(opts []ReadOption) readConfig {
	c := readConfig{cacheTTL: s.cacheTTL, edgeTTL: s.edgeTTL}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// validate checks what the read options set: an EdgeCacheFor outside KV's
// rules fails the read before any request.
func (c *readConfig) validate() error {
	if c.edgeTTL != 0 {
		return ValidateEdgeCacheTTL(c.edgeTTL)
	}
	return nil
}

// stripe is one generation counter of the read cache. gen moves on every
// write to a key of the stripe; mu makes "check gen, then cache" and "move
// gen, then drop" atomic with respect to each other (hits take no lock).
type stripe struct {
	mu  sync.Mutex
	gen atomic.Uint64
}

func (s *Store[T]) stripe(key string) *stripe {
	return &s.gens[maphash.String(s.seed, key)%uint64(len(s.gens))]
}

// invalidate drops key from the cache and moves its stripe's generation, so
// reads in flight do not put back what they read before the write.
func (s *Store[T]) invalidate(key string) {
	if s.cache == nil {
		return
	}
	st := s.stripe(key)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.gen.Add(1)
	s.cache.Delete(key)
}

// remember stores a read in the cache if no write to its stripe happened
// since gen was taken.
func (s *Store[T]) remember(key string, gen uint64, c cached[T], ttl time.Duration) {
	if s.cache == nil || ttl <= 0 {
		return
	}
	if !c.exp.IsZero() {
		if left := c.exp.Sub(s.now()); left < ttl {
			ttl = left
		}
	}
	st := s.stripe(key)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gen.Load() != gen {
		return
	}
	s.cache.Set(key, &c, ttl)
}

// Get reads key. A missing (or expired) key is found == false with a nil
// error. A value that cannot be decoded is an error wrapping ErrCodec, with
// the zero value.
func (s *Store[T]) Get(ctx context.Context, key string, opts ...ReadOption) (T, bool, error) {
	// Fast path: a warm read cache answers without building the full key.
	if s.cache != nil && len(opts) == 0 && validatePrefixed(s.prefix, key) == nil {
		if c, ok := s.cache.Get(key); ok {
			return c.v, c.found, nil
		}
	}
	c, err := s.get(ctx, "get", key, false, opts)
	return c.v, c.found, err
}

// Has reports whether key exists. It costs a read (KV has no cheaper way)
// and uses the read cache like Get.
func (s *Store[T]) Has(ctx context.Context, key string, opts ...ReadOption) (bool, error) {
	c, err := s.get(ctx, "has", key, false, opts)
	return c.found, err
}

// GetWithMetadata reads key and decodes its metadata into meta, which must
// be a pointer (or nil to ignore it). A key without metadata leaves meta
// untouched. On any error the value is the zero value.
func (s *Store[T]) GetWithMetadata(ctx context.Context, key string, meta any, opts ...ReadOption) (T, bool, error) {
	var zero T
	c, err := s.get(ctx, "get", key, true, opts)
	if err != nil || !c.found {
		return zero, false, err
	}
	if meta != nil && len(c.meta) > 0 {
		if err := json.Unmarshal(c.meta, meta); err != nil {
			return zero, false, &Error{Op: "get", Key: s.prefix + key, Err: errors.Join(ErrCodec, err)}
		}
	}
	return c.v, true, nil
}

// Entry is a decoded value with its key, metadata and expiration.
type Entry[T any] struct {
	Key        string // without the Store's prefix
	Value      T
	Metadata   json.RawMessage // nil when none
	Expiration time.Time       // zero when the key does not expire
}

// GetEntry reads key with its metadata (raw JSON) and expiration.
func (s *Store[T]) GetEntry(ctx context.Context, key string, opts ...ReadOption) (Entry[T], bool, error) {
	c, err := s.get(ctx, "get", key, true, opts)
	if err != nil || !c.found {
		return Entry[T]{}, false, err
	}
	return Entry[T]{Key: key, Value: c.v, Metadata: c.meta, Expiration: c.exp}, true, nil
}

func (s *Store[T]) get(ctx context.Context, op, key string, withMeta bool, opts []ReadOption) (cached[T], error) {
	if err := validatePrefixed(s.prefix, key); err != nil {
		return cached[T]{}, &Error{Op: op, Key: s.prefix + key, Err: err}
	}
	var rc readConfig
	if len(opts) > 0 {
		rc = s.readConfig(opts)
		if err := rc.validate(); err != nil {
			return cached[T]{}, &Error{Op: op, Key: s.prefix + key, Err: err}
		}
	} else {
		rc.cacheTTL, rc.edgeTTL = s.cacheTTL, s.edgeTTL
	}
	if s.cache != nil && !rc.noCache {
		if c, ok := s.cache.Get(key); ok && (c.hasMeta || !withMeta || !c.found) {
			return *c, nil
		}
	}
	var gen uint64
	if s.cache != nil {
		gen = s.stripe(key).gen.Load()
	}
	full := s.prefix + key
	it, found, err := s.ns.Get(ctx, full, GetOptions{WithMetadata: withMeta, EdgeCacheTTL: rc.edgeTTL})
	if err != nil {
		return cached[T]{}, wrap(op, full, err)
	}
	c := cached[T]{found: found, hasMeta: withMeta}
	if found {
		if err := s.codec.Unmarshal(it.Value, &c.v); err != nil {
			return cached[T]{}, &Error{Op: op, Key: full, Err: errors.Join(ErrCodec, err)}
		}
		c.meta, c.exp = it.Metadata, it.Expiration
	}
	s.remember(key, gen, c, rc.cacheTTL)
	return c, nil
}

// WriteOption tunes one write.
type WriteOption func(*writeConfig)

type writeConfig struct {
	ttl      time.Duration
	exp      time.Time
	meta     any
	noTTL    bool
	hasTTL   bool
	hasMeta  bool
	metaJSON json.RawMessage
}

// WithTTL sets the write's expiration TTL (whole seconds, at least MinTTL),
// overriding the Store's DefaultTTL. It wins over WithExpiration.
func WithTTL(ttl time.Duration) WriteOption {
	return func(c *writeConfig) { c.ttl, c.hasTTL = ttl, true }
}

// WithExpiration sets the write's absolute expiration (at least MinTTL in
// the future), overriding the Store's DefaultTTL.
func WithExpiration(t time.Time) WriteOption {
	return func(c *writeConfig) { c.exp = t }
}

// WithoutExpiration makes the write never expire, overriding DefaultTTL.
func WithoutExpiration() WriteOption {
	return func(c *writeConfig) { c.noTTL = true }
}

// WithMetadata attaches metadata, encoded as JSON (at most MaxMetadataSize
// bytes). A json.RawMessage is sent as it is.
func WithMetadata(meta any) WriteOption {
	return func(c *writeConfig) { c.meta, c.hasMeta = meta, true }
}

// putOptions resolves write options into PutOptions and validates them.
func (s *Store[T]) putOptions(opts []WriteOption, now time.Time) (PutOptions, error) {
	var c writeConfig
	for _, o := range opts {
		o(&c)
	}
	return s.resolve(c.ttl, c.hasTTL, c.exp, c.noTTL, c.meta, c.hasMeta, now)
}

func (s *Store[T]) resolve(ttl time.Duration, hasTTL bool, exp time.Time, noTTL bool, meta any, hasMeta bool, now time.Time) (PutOptions, error) {
	var po PutOptions
	switch {
	case hasTTL:
		po.TTL = ttl
		if ttl == 0 {
			return po, newDetail(ErrInvalidTTL, "TTL 0s must be greater than 0")
		}
	case !exp.IsZero():
		po.Expiration = exp
	case !noTTL:
		po.TTL = s.ttl
	}
	if hasMeta && meta != nil {
		raw, ok := meta.(json.RawMessage)
		if !ok {
			b, err := JSON.Marshal(meta)
			if err != nil {
				return po, errors.Join(ErrCodec, err)
			}
			raw = b
		}
		po.Metadata = raw
	}
	if po.TTL != 0 {
		if err := ValidateTTL(po.TTL); err != nil {
			return po, err
		}
	} else if !po.Expiration.IsZero() {
		if err := ValidateExpiration(po.Expiration, now); err != nil {
			return po, err
		}
	}
	return po, ValidateMetadata(po.Metadata)
}

// prepareWrite validates key and resolves the write options of a put.
func (s *Store[T]) prepareWrite(key string, opts []WriteOption) (string, PutOptions, error) {
	full := s.prefix + key
	if err := validatePrefixed(s.prefix, key); err != nil {
		return full, PutOptions{}, &Error{Op: "put", Key: full, Err: err}
	}
	po, err := s.putOptions(opts, s.now())
	if err != nil {
		return full, PutOptions{}, &Error{Op: "put", Key: full, Err: err}
	}
	return full, po, nil
}

// Put encodes v and writes it under key. Everything is validated before the
// namespace is called: a bad key, TTL, expiration, metadata or value costs no
// request and writes nothing.
func (s *Store[T]) Put(ctx context.Context, key string, v T, opts ...WriteOption) error {
	full, po, err := s.prepareWrite(key, opts)
	if err != nil {
		return err
	}
	data, err := s.codec.Marshal(v)
	if err != nil {
		return &Error{Op: "put", Key: full, Err: errors.Join(ErrCodec, err)}
	}
	if err := ValidateValue(len(data)); err != nil {
		return &Error{Op: "put", Key: full, Err: err}
	}
	s.invalidate(key)
	err = s.ns.Put(ctx, full, data, po)
	s.invalidate(key)
	return wrap("put", full, err)
}

// Delete removes key. Deleting a missing key is not an error.
func (s *Store[T]) Delete(ctx context.Context, key string) error {
	full := s.prefix + key
	if err := validatePrefixed(s.prefix, key); err != nil {
		return &Error{Op: "delete", Key: full, Err: err}
	}
	s.invalidate(key)
	err := s.ns.Delete(ctx, full)
	s.invalidate(key)
	return wrap("delete", full, err)
}

// GetStream opens the raw stored bytes of key for reading, without the codec
// and without the read cache: the form for large values. The caller closes
// the reader.
func (s *Store[T]) GetStream(ctx context.Context, key string) (io.ReadCloser, bool, error) {
	full := s.prefix + key
	if err := validatePrefixed(s.prefix, key); err != nil {
		return nil, false, &Error{Op: "get", Key: full, Err: err}
	}
	if sn, ok := s.ns.(StreamNamespace); ok {
		r, found, err := sn.GetStream(ctx, full)
		return r, found, wrap("get", full, err)
	}
	it, found, err := s.ns.Get(ctx, full, GetOptions{})
	if err != nil || !found {
		return nil, found, wrap("get", full, err)
	}
	return io.NopCloser(bytesReader(it.Value)), true, nil
}

// PutStream writes the bytes read from r under key as they are (no codec),
// with the same options as Put. A reader longer than MaxValueSize fails with
// ErrValueTooLarge and writes nothing.
func (s *Store[T]) PutStream(ctx context.Context, key string, r io.Reader, opts ...WriteOption) error {
	full, po, err := s.prepareWrite(key, opts)
	if err != nil {
		return err
	}
	s.invalidate(key)
	defer s.invalidate(key)
	if sn, ok := s.ns.(StreamNamespace); ok {
		return wrap("put", full, sn.PutStream(ctx, full, r, po))
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxValueSize+1))
	if err != nil {
		return &Error{Op: "put", Key: full, Err: err}
	}
	if err := ValidateValue(len(data)); err != nil {
		return &Error{Op: "put", Key: full, Err: err}
	}
	return wrap("put", full, s.ns.Put(ctx, full, data, po))
}
