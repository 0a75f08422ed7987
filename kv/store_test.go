package kv_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
)

type user struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

type fixture struct {
	clock *kvtest.Clock
	mem   *memory.Namespace
	ns    *kvtest.CountingBulk
}

func newFixture() fixture {
	clock := kvtest.NewClock()
	mem := memory.New(memory.Options{Clock: clock.Now})
	return fixture{clock: clock, mem: mem, ns: kvtest.NewCountingBulk(mem)}
}

// plainNS hides the bulk methods of a namespace.
type plainNS struct{ kv.Namespace }

func newStore[T any](t *testing.T, f fixture, o kv.Options) *kv.Store[T] {
	t.Helper()
	o.Clock = f.clock.Now
	s, err := kv.New[T](f.ns, o)
	require.NoError(t, err)
	return s
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := kv.New[string](nil, kv.Options{})
	require.ErrorIs(t, err, kv.ErrInvalidOptions)
	assert.Contains(t, err.Error(), "namespace is nil")

	ns := memory.New(memory.Options{})
	for name, o := range map[string]kv.Options{
		"ttl under 60s":    {DefaultTTL: 30 * time.Second},
		"fractional ttl":   {DefaultTTL: 90500 * time.Millisecond},
		"long prefix":      {Prefix: strings.Repeat("p", 512)},
		"negative cache":   {CacheTTL: -time.Second},
		"prefix not UTF-8": {Prefix: "caf\xc3"},
	} {
		_, err := kv.New[string](ns, o)
		assert.ErrorIs(t, err, kv.ErrInvalidOptions, name)
	}
	_, err = kv.New[user](ns, kv.Options{Codec: kv.Text})
	assert.ErrorIs(t, err, kv.ErrInvalidOptions, "text codec cannot store a struct")
	assert.ErrorIs(t, err, kv.ErrCodec)
	assert.Panics(t, func() { kv.Must(kv.New[string](nil, kv.Options{})) })
}

func TestGetPutDeleteHas(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[user](t, f, kv.Options{Prefix: "user:"})

	_, found, err := s.Get(ctx, "1")
	require.NoError(t, err)
	assert.False(t, found)

	require.NoError(t, s.Put(ctx, "1", user{"Ada", 36}))
	got, found, err := s.Get(ctx, "1")
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, user{"Ada", 36}, got)

	raw, ok, _ := f.mem.Get(ctx, "user:1", kv.GetOptions{})
	require.True(t, ok, "stored under the prefix")
	assert.JSONEq(t, `{"name":"Ada","age":36}`, string(raw.Value))

	has, err := s.Has(ctx, "1")
	require.NoError(t, err)
	assert.True(t, has)

	require.NoError(t, s.Delete(ctx, "1"))
	has, err = s.Has(ctx, "1")
	require.NoError(t, err)
	assert.False(t, has)
}

func TestTTLAndExpiration(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[string](t, f, kv.Options{DefaultTTL: time.Hour})

	require.NoError(t, s.Put(ctx, "default", "v"))
	require.NoError(t, s.Put(ctx, "ttl", "v", kv.WithTTL(2*time.Minute)))
	require.NoError(t, s.Put(ctx, "exp", "v", kv.WithExpiration(f.clock.Now().Add(10*time.Minute))))
	require.NoError(t, s.Put(ctx, "both", "v", kv.WithTTL(90*time.Second), kv.WithExpiration(f.clock.Now().Add(-time.Hour))))
	require.NoError(t, s.Put(ctx, "never", "v", kv.WithoutExpiration()))

	want := map[string]time.Duration{"default": time.Hour, "ttl": 2 * time.Minute, "exp": 10 * time.Minute, "both": 90 * time.Second, "never": 0}
	for k, d := range want {
		e, found, err := s.GetEntry(ctx, k)
		require.NoError(t, err)
		require.True(t, found, k)
		if d == 0 {
			assert.True(t, e.Expiration.IsZero(), k)
		} else {
			assert.Equal(t, f.clock.Now().Add(d).Unix(), e.Expiration.Unix(), k)
		}
	}

	f.ns.Reset()
	for _, o := range []kv.WriteOption{kv.WithTTL(59 * time.Second), kv.WithTTL(0), kv.WithTTL(-time.Minute)} {
		err := s.Put(ctx, "bad", "v", o)
		require.ErrorIs(t, err, kv.ErrInvalidTTL)
	}
	err := s.Put(ctx, "bad", "v", kv.WithExpiration(f.clock.Now().Add(59*time.Second)))
	require.ErrorIs(t, err, kv.ErrInvalidExpiration)
	assert.Zero(t, f.ns.Counts().Total(), "bad input must cost no call")
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[string](t, f, kv.Options{})
	type meta struct {
		Owner string `json:"owner"`
		Rev   int    `json:"rev"`
	}
	require.NoError(t, s.Put(ctx, "doc", "body", kv.WithMetadata(meta{"ada", 3})))
	var m meta
	v, found, err := s.GetWithMetadata(ctx, "doc", &m)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "body", v)
	assert.Equal(t, meta{"ada", 3}, m)

	require.NoError(t, s.Put(ctx, "raw", "body", kv.WithMetadata(json.RawMessage(`{"owner":"bob"}`))))
	_, _, err = s.GetWithMetadata(ctx, "raw", &m)
	require.NoError(t, err)
	assert.Equal(t, "bob", m.Owner)

	f.ns.Reset()
	err = s.Put(ctx, "big", "v", kv.WithMetadata(strings.Repeat("x", 1023)))
	require.ErrorIs(t, err, kv.ErrMetadataTooLarge)
	err = s.Put(ctx, "bad", "v", kv.WithMetadata(make(chan int)))
	require.ErrorIs(t, err, kv.ErrCodec)
	assert.Zero(t, f.ns.Counts().Total())

	// Metadata that does not fit the caller's type is a codec error, and
	// never a half value.
	var wrong struct{ Owner int }
	v, found, err = s.GetWithMetadata(ctx, "doc", &wrong)
	require.ErrorIs(t, err, kv.ErrCodec)
	assert.False(t, found)
	assert.Empty(t, v)
}

func TestErrorsNameOpAndKey(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[int](t, f, kv.Options{Prefix: "n:"})
	require.NoError(t, f.mem.Put(ctx, "n:bad", []byte("not json"), kv.PutOptions{}))

	v, found, err := s.Get(ctx, "bad")
	require.ErrorIs(t, err, kv.ErrCodec)
	var ke *kv.Error
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, "get", ke.Op)
	assert.Equal(t, "n:bad", ke.Key)
	assert.Contains(t, err.Error(), `kv: get "n:bad"`)
	assert.Zero(t, v)
	assert.False(t, found)

	err = s.Put(ctx, strings.Repeat("k", 511), 1)
	require.ErrorIs(t, err, kv.ErrInvalidKey)
	assert.Contains(t, err.Error(), "513 bytes")

	f.ns.FailWith(kv.ErrUnavailable)
	_, _, err = s.Get(ctx, "x")
	require.ErrorIs(t, err, kv.ErrUnavailable)
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, "n:x", ke.Key)
}

func TestDotKeysWithPrefix(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	plain := newStore[string](t, f, kv.Options{})
	for _, k := range []string{"", ".", ".."} {
		require.ErrorIs(t, plain.Put(ctx, k, "v"), kv.ErrInvalidKey, k)
	}
	// With a prefix, "." is a fine suffix: the full key is "p.".
	dotted := newStore[string](t, f, kv.Options{Prefix: "p"})
	require.NoError(t, dotted.Put(ctx, ".", "v"))
	require.NoError(t, dotted.Put(ctx, "", "v"))
	// ...but a prefix "." with key "." makes "..".
	dot := newStore[string](t, f, kv.Options{Prefix: "."})
	require.ErrorIs(t, dot.Put(ctx, ".", "v"), kv.ErrInvalidKey)
	require.ErrorIs(t, dot.Put(ctx, "", "v"), kv.ErrInvalidKey)
	require.NoError(t, dot.Put(ctx, "..", "v"))
}

// TestInvalidUTF8KeysCostNoCall: a key or list prefix that is not UTF-8 is
// refused by the Store itself, before any call, on every method.
func TestInvalidUTF8KeysCostNoCall(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[string](t, f, kv.Options{Prefix: "p:", CacheTTL: time.Minute})
	bad := "caf\xc3"
	_, _, err := s.Get(ctx, bad)
	assert.ErrorIs(t, err, kv.ErrInvalidKey)
	assert.ErrorIs(t, s.Put(ctx, bad, "v"), kv.ErrInvalidKey)
	assert.ErrorIs(t, s.Delete(ctx, bad), kv.ErrInvalidKey)
	_, err = s.GetMany(ctx, []string{"ok", bad})
	assert.ErrorIs(t, err, kv.ErrInvalidKey)
	assert.ErrorIs(t, s.PutMany(ctx, []kv.PutEntry[string]{{Key: "ok", Value: "v"}, {Key: bad, Value: "v"}}), kv.ErrInvalidKey)
	assert.ErrorIs(t, s.DeleteMany(ctx, []string{"ok", bad}), kv.ErrInvalidKey)
	_, err = s.ListPage(ctx, kv.ListOptions{Prefix: bad})
	assert.ErrorIs(t, err, kv.ErrInvalidKey)
	assert.Zero(t, f.ns.Counts().Total())
}

func TestReadCache(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[string](t, f, kv.Options{CacheTTL: time.Minute})
	other := newStore[string](t, f, kv.Options{}) // another process, in effect

	require.NoError(t, s.Put(ctx, "k", "v1"))
	f.ns.Reset()
	for range 5 {
		v, _, err := s.Get(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "v1", v)
	}
	assert.EqualValues(t, 1, f.ns.Counts().Get, "five reads, one call")

	// Misses are cached too.
	for range 3 {
		_, found, _ := s.Get(ctx, "absent")
		assert.False(t, found)
	}
	assert.EqualValues(t, 2, f.ns.Counts().Get)

	// Another writer is seen only after the TTL...
	require.NoError(t, other.Put(ctx, "k", "v2"))
	v, _, _ := s.Get(ctx, "k")
	assert.Equal(t, "v1", v)
	// ...or at once with NoCache, which also refreshes the cache.
	v, _, _ = s.Get(ctx, "k", kv.NoCache())
	assert.Equal(t, "v2", v)
	f.ns.Reset()
	v, _, _ = s.Get(ctx, "k")
	assert.Equal(t, "v2", v)
	assert.Zero(t, f.ns.Counts().Get)

	// Own writes and deletes invalidate at once.
	require.NoError(t, s.Put(ctx, "k", "v3"))
	v, _, _ = s.Get(ctx, "k")
	assert.Equal(t, "v3", v)
	require.NoError(t, s.Delete(ctx, "k"))
	_, found, _ := s.Get(ctx, "k")
	assert.False(t, found)

	// Entries expire after CacheTTL.
	require.NoError(t, other.Put(ctx, "k", "v4"))
	f.clock.Advance(time.Minute)
	v, _, _ = s.Get(ctx, "k")
	assert.Equal(t, "v4", v)

	// CacheFor(0) reads through without keeping the value.
	f.ns.Reset()
	_, _, _ = s.Get(ctx, "fresh", kv.CacheFor(0))
	_, _, _ = s.Get(ctx, "fresh", kv.CacheFor(0))
	assert.EqualValues(t, 2, f.ns.Counts().Get)
}

func TestReadCacheNeverOutlivesExpiration(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[string](t, f, kv.Options{CacheTTL: time.Hour})
	require.NoError(t, s.Put(ctx, "k", "v", kv.WithTTL(time.Minute)))
	_, found, _ := s.Get(ctx, "k")
	require.True(t, found)
	f.clock.Advance(time.Minute)
	_, found, _ = s.Get(ctx, "k")
	assert.False(t, found, "a cached value must not outlive its KV expiration")
}

// slowNS delays Gets until released, to race a read against a write.
type slowNS struct {
	kv.Namespace
	entered chan struct{}
	release chan struct{}
}

func (s *slowNS) Get(ctx context.Context, key string, o kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	it, found, err := s.Namespace.Get(ctx, key, o)
	s.entered <- struct{}{}
	<-s.release
	return it, found, err
}

func TestReadCacheRaceWithWrite(t *testing.T) {
	t.Parallel()
	mem := memory.New(memory.Options{})
	ctx := context.Background()
	require.NoError(t, mem.Put(ctx, "k", []byte(`"old"`), kv.PutOptions{}))
	slow := &slowNS{Namespace: mem, entered: make(chan struct{}), release: make(chan struct{})}
	s, err := kv.New[string](slow, kv.Options{CacheTTL: time.Hour})
	require.NoError(t, err)

	done := make(chan string)
	go func() {
		v, _, _ := s.Get(ctx, "k")
		done <- v
	}()
	<-slow.entered // the read has fetched "old"
	require.NoError(t, s.Put(ctx, "k", "new"))
	close(slow.release)
	assert.Equal(t, "old", <-done)

	// The stale read must not have been cached over the newer write.
	go func() { <-slow.entered }()
	v, _, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "new", v)
}

func TestGetManyBulk(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[int](t, f, kv.Options{Prefix: "n:"})
	entries := make([]kv.PutEntry[int], 250)
	keys := make([]string, 0, 300)
	for i := range entries {
		entries[i] = kv.PutEntry[int]{Key: fmt.Sprint(i), Value: i}
		keys = append(keys, fmt.Sprint(i))
	}
	for i := range 50 {
		keys = append(keys, fmt.Sprint("missing", i))
	}
	require.NoError(t, s.PutMany(ctx, entries))
	assert.EqualValues(t, 1, f.ns.Counts().BulkPut)

	f.ns.Reset()
	got, err := s.GetMany(ctx, keys[:100])
	require.NoError(t, err)
	assert.Len(t, got, 100)
	assert.EqualValues(t, 1, f.ns.Counts().BulkGet, "100 keys = 1 bulk call")
	assert.Zero(t, f.ns.Counts().Get)

	f.ns.Reset()
	got, err = s.GetMany(ctx, keys)
	require.NoError(t, err)
	assert.Len(t, got, 250)
	for i := range 250 {
		assert.Equal(t, i, got[fmt.Sprint(i)])
	}
	assert.EqualValues(t, 3, f.ns.Counts().BulkGet, "300 keys = 3 bulk calls")

	f.ns.Reset()
	require.NoError(t, s.DeleteMany(ctx, keys[:200]))
	assert.EqualValues(t, 1, f.ns.Counts().BulkDelete)
	got, err = s.GetMany(ctx, keys)
	require.NoError(t, err)
	assert.Len(t, got, 50)

	got, err = s.GetMany(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestManyWithoutBulk(t *testing.T) {
	t.Parallel()
	clock := kvtest.NewClock()
	mem := memory.New(memory.Options{Clock: clock.Now})
	counting := kvtest.NewCounting(plainNS{mem})
	s, err := kv.New[string](counting, kv.Options{Concurrency: 4, DefaultTTL: time.Hour, Clock: clock.Now})
	require.NoError(t, err)
	ctx := context.Background()
	entries := []kv.PutEntry[string]{
		{Key: "a", Value: "A"},
		{Key: "b", Value: "B", TTL: 2 * time.Minute},
		{Key: "c", Value: "C", Metadata: map[string]int{"x": 1}},
	}
	require.NoError(t, s.PutMany(ctx, entries))
	assert.EqualValues(t, 3, counting.Counts().Put)
	got, err := s.GetMany(ctx, []string{"a", "b", "c", "d", "a"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "A", "b": "B", "c": "C"}, got)
	assert.EqualValues(t, 4, counting.Counts().Get, "duplicates read once")

	e, _, _ := s.GetEntry(ctx, "a")
	assert.Equal(t, clock.Now().Add(time.Hour).Unix(), e.Expiration.Unix(), "default TTL")
	e, _, _ = s.GetEntry(ctx, "b")
	assert.Equal(t, clock.Now().Add(2*time.Minute).Unix(), e.Expiration.Unix(), "per-entry TTL")
	e, _, _ = s.GetEntry(ctx, "c")
	assert.JSONEq(t, `{"x":1}`, string(e.Metadata))

	require.NoError(t, s.DeleteMany(ctx, []string{"a", "b"}))
	assert.EqualValues(t, 2, counting.Counts().Delete)
}

func TestPutManyValidatesFirst(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[string](t, f, kv.Options{})
	err := s.PutMany(ctx, []kv.PutEntry[string]{{Key: "ok", Value: "v"}, {Key: "..", Value: "v"}})
	require.ErrorIs(t, err, kv.ErrInvalidKey)
	err = s.PutMany(ctx, []kv.PutEntry[string]{{Key: "ok", Value: "v"}, {Key: "t", Value: "v", TTL: time.Second}})
	require.ErrorIs(t, err, kv.ErrInvalidTTL)
	err = s.DeleteMany(ctx, []string{"ok", ""})
	require.ErrorIs(t, err, kv.ErrInvalidKey)
	_, err = s.GetMany(ctx, []string{"ok", "."})
	require.ErrorIs(t, err, kv.ErrInvalidKey)
	assert.Zero(t, f.ns.Counts().Total())
}

// partialNS fails bulk writes for keys that contain "fail".
type partialNS struct{ *memory.Namespace }

func (p partialNS) PutBulk(ctx context.Context, entries []kv.Pair) error {
	var ok []kv.Pair
	var failed []string
	for _, e := range entries {
		if strings.Contains(e.Key, "fail") {
			failed = append(failed, e.Key)
		} else {
			ok = append(ok, e)
		}
	}
	if err := p.Namespace.PutBulk(ctx, ok); err != nil {
		return err
	}
	return &kv.BulkError{Op: "put-bulk", Keys: failed, Err: kv.ErrUnavailable}
}

func TestPutManyPartialFailure(t *testing.T) {
	t.Parallel()
	ns := partialNS{memory.New(memory.Options{})}
	s, err := kv.New[string](ns, kv.Options{Prefix: "p:"})
	require.NoError(t, err)
	ctx := context.Background()
	err = s.PutMany(ctx, []kv.PutEntry[string]{{Key: "a", Value: "v"}, {Key: "fail1", Value: "v"}, {Key: "b", Value: "v"}})
	var be *kv.BulkError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, []string{"fail1"}, be.Keys, "failed keys, without the prefix")
	assert.ErrorIs(t, err, kv.ErrUnavailable)
	got, err := s.GetMany(ctx, []string{"a", "b", "fail1"})
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

func TestGetManyDecodeFailureReturnsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[int](t, f, kv.Options{})
	require.NoError(t, s.Put(ctx, "good", 1))
	require.NoError(t, f.mem.Put(ctx, "bad", []byte("{"), kv.PutOptions{}))
	got, err := s.GetMany(ctx, []string{"good", "bad"})
	require.ErrorIs(t, err, kv.ErrCodec)
	assert.Contains(t, err.Error(), `"bad"`)
	assert.Nil(t, got)
}

func TestList(t *testing.T) {
	t.Parallel()
	f := newFixture()
	ctx := context.Background()
	s := newStore[string](t, f, kv.Options{Prefix: "user:"})
	other := newStore[string](t, f, kv.Options{Prefix: "post:"})
	var want []string
	for i := range 2500 {
		k := fmt.Sprintf("active:%04d", i)
		want = append(want, k)
		require.NoError(t, f.mem.Put(ctx, "user:"+k, []byte(`"v"`), kv.PutOptions{}))
	}
	require.NoError(t, s.Put(ctx, "idle:1", "v", kv.WithMetadata(map[string]bool{"idle": true})))
	require.NoError(t, other.Put(ctx, "active:1", "v"))

	f.ns.Reset()
	var got []string
	for k, err := range s.Keys(ctx, kv.ListOptions{Prefix: "active:"}) {
		require.NoError(t, err)
		got = append(got, k.Name)
	}
	assert.Equal(t, want, got)
	assert.EqualValues(t, 3, f.ns.Counts().List, "2,500 keys = 3 pages")

	all, err := s.ListAll(ctx, kv.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, all, 2501)
	last := all[len(all)-1]
	assert.Equal(t, "idle:1", last.Name)
	var m map[string]bool
	require.NoError(t, last.DecodeMetadata(&m))
	assert.True(t, m["idle"])
	assert.ErrorIs(t, all[0].DecodeMetadata(&m), kv.ErrNotFound)

	// Stopping early makes no more calls.
	f.ns.Reset()
	for range s.Keys(ctx, kv.ListOptions{Limit: 10}) {
		break
	}
	assert.EqualValues(t, 1, f.ns.Counts().List)

	// Resumable paging.
	p, err := s.ListPage(ctx, kv.ListOptions{Prefix: "active:", Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, p.Keys, 1000)
	require.False(t, p.Complete)
	p, err = s.ListPage(ctx, kv.ListOptions{Prefix: "active:", Cursor: p.Cursor})
	require.NoError(t, err)
	assert.Equal(t, "active:1000", p.Keys[0].Name)

	_, err = s.ListPage(ctx, kv.ListOptions{Limit: 1001})
	require.ErrorIs(t, err, kv.ErrInvalidLimit)
}

// emptyPagesNS returns empty-but-incomplete pages before the real ones, as
// KV does when tombstones fill a page.
type emptyPagesNS struct {
	kv.Namespace
	mu    sync.Mutex
	empty int
}

func (e *emptyPagesNS) List(ctx context.Context, r kv.ListOptions) (kv.Page, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.empty > 0 {
		e.empty--
		return kv.Page{Keys: nil, Cursor: r.Cursor + "~", Complete: false}, nil
	}
	r.Cursor = strings.TrimRight(r.Cursor, "~")
	return e.Namespace.List(ctx, r)
}

func TestListContinuesOnEmptyPages(t *testing.T) {
	t.Parallel()
	mem := memory.New(memory.Options{})
	ctx := context.Background()
	require.NoError(t, mem.Put(ctx, "a", []byte(`"v"`), kv.PutOptions{}))
	s, err := kv.New[string](&emptyPagesNS{Namespace: mem, empty: 3}, kv.Options{})
	require.NoError(t, err)
	keys, err := s.ListAll(ctx, kv.ListOptions{})
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, "a", keys[0].Name)
}

func TestListErrorYieldedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture()
	s := newStore[string](t, f, kv.Options{})
	f.ns.FailWith(kv.ErrRateLimited)
	n := 0
	for k, err := range s.Keys(context.Background(), kv.ListOptions{}) {
		n++
		assert.Zero(t, k)
		assert.ErrorIs(t, err, kv.ErrRateLimited)
	}
	assert.Equal(t, 1, n)
}

func TestConcurrentStore(t *testing.T) {
	t.Parallel()
	f := newFixture()
	s := newStore[int](t, f, kv.Options{CacheTTL: time.Minute})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := fmt.Sprint(i % 10)
				if (w+i)%3 == 0 {
					assert.NoError(t, s.Put(ctx, k, i))
				} else {
					_, _, err := s.Get(ctx, k)
					assert.NoError(t, err)
				}
			}
		})
	}
	wg.Wait()
	// After the dust settles, every cached value equals the stored one.
	for i := range 10 {
		k := fmt.Sprint(i)
		cachedV, _, err := s.Get(ctx, k)
		require.NoError(t, err)
		freshV, _, err := s.Get(ctx, k, kv.NoCache())
		require.NoError(t, err)
		assert.Equal(t, freshV, cachedV, k)
	}
}

func TestStream(t *testing.T) {
	t.Parallel()
	for name, ns := range map[string]kv.Namespace{"streaming": memory.New(memory.Options{}), "buffered": plainNS{memory.New(memory.Options{})}} {
		s, err := kv.New[[]byte](ns, kv.Options{Prefix: "blob:", Codec: kv.Bytes})
		require.NoError(t, err)
		ctx := context.Background()
		body := strings.Repeat("large value ", 100000)
		require.NoError(t, s.PutStream(ctx, "b", strings.NewReader(body), kv.WithTTL(time.Hour)), name)
		r, found, err := s.GetStream(ctx, "b")
		require.NoError(t, err)
		require.True(t, found)
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		assert.Equal(t, body, string(data), name)
		v, _, err := s.Get(ctx, "b")
		require.NoError(t, err)
		assert.Len(t, v, len(body))

		err = s.PutStream(ctx, "huge", strings.NewReader(strings.Repeat("x", kv.MaxValueSize+1)))
		require.ErrorIs(t, err, kv.ErrValueTooLarge, name)
		_, found, _ = s.Get(ctx, "huge")
		assert.False(t, found)
	}
}

func TestRawAccess(t *testing.T) {
	t.Parallel()
	f := newFixture()
	s := newStore[string](t, f, kv.Options{Prefix: "x:"})
	assert.Same(t, f.ns, s.Namespace())
	assert.Equal(t, "x:", s.Prefix())
	var be *kv.BulkError
	assert.False(t, errors.As(errors.New("x"), &be))
}

func bytesReader(s string) *strings.Reader { return strings.NewReader(s) }

// edgeRecorder records the GetOptions.EdgeCacheTTL of every read.
type edgeRecorder struct {
	kv.BulkNamespace
	mu   sync.Mutex
	seen []time.Duration
}

func (r *edgeRecorder) record(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, d)
}

func (r *edgeRecorder) take() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seen
	r.seen = nil
	return out
}

func (r *edgeRecorder) Get(ctx context.Context, key string, o kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	r.record(o.EdgeCacheTTL)
	return r.BulkNamespace.Get(ctx, key, o)
}

func (r *edgeRecorder) GetBulk(ctx context.Context, keys []string, o kv.GetOptions) (map[string]kv.Entry[[]byte], error) {
	r.record(o.EdgeCacheTTL)
	return r.BulkNamespace.GetBulk(ctx, keys, o)
}

func TestEdgeCacheTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := memory.New(memory.Options{})
	for name, d := range map[string]time.Duration{"under 30s": 29 * time.Second, "fractional": 30500 * time.Millisecond, "negative": -time.Minute} {
		_, err := kv.New[string](mem, kv.Options{EdgeCacheTTL: d})
		assert.ErrorIs(t, err, kv.ErrInvalidOptions, name)
		assert.ErrorIs(t, err, kv.ErrInvalidTTL, name)
	}

	rec := &edgeRecorder{BulkNamespace: mem}
	s := kv.Must(kv.New[string](rec, kv.Options{EdgeCacheTTL: 45 * time.Second}))
	require.NoError(t, s.Put(ctx, "k", "v"))

	// The Store's setting goes with every read, single or bulk.
	v, found, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "v", v, "a backend without an edge cache ignores it")
	_, _, _ = s.GetWithMetadata(ctx, "k", nil)
	_, _ = s.Has(ctx, "k")
	_, _, _ = s.GetEntry(ctx, "k")
	got, err := s.GetMany(ctx, []string{"k", "absent"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"k": "v"}, got)
	assert.Equal(t, []time.Duration{45 * time.Second, 45 * time.Second, 45 * time.Second, 45 * time.Second, 45 * time.Second}, rec.take())

	// Per call: this TTL, or the shortest KV allows.
	_, _, _ = s.Get(ctx, "k", kv.EdgeCacheFor(10*time.Minute))
	_, _, _ = s.Get(ctx, "k", kv.NoEdgeCache())
	_, _ = s.GetMany(ctx, []string{"k"}, kv.NoEdgeCache())
	assert.Equal(t, []time.Duration{10 * time.Minute, kv.MinEdgeCacheTTL, kv.MinEdgeCacheTTL}, rec.take())

	// A bad per-call TTL fails before any request.
	_, _, err = s.Get(ctx, "k", kv.EdgeCacheFor(10*time.Second))
	assert.ErrorIs(t, err, kv.ErrInvalidTTL)
	_, err = s.GetMany(ctx, []string{"k"}, kv.EdgeCacheFor(time.Minute+time.Millisecond))
	assert.ErrorIs(t, err, kv.ErrInvalidTTL)
	assert.Empty(t, rec.take())

	// Without bulk endpoints, each single read carries it.
	plain := kv.Must(kv.New[string](&edgeRecorder{BulkNamespace: mem}, kv.Options{}))
	_, _, _ = plain.Get(ctx, "k")
	assert.Equal(t, []time.Duration{0}, plain.Namespace().(*edgeRecorder).take(), "no EdgeCacheTTL: none sent")
	noBulk := &edgeRecorder{BulkNamespace: mem}
	ps := kv.Must(kv.New[string](plainNS{noBulk}, kv.Options{EdgeCacheTTL: time.Minute}))
	_, err = ps.GetMany(ctx, []string{"k", "j"})
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{time.Minute, time.Minute}, noBulk.take())
}

// The in-process read cache and the edge cache are separate: NoEdgeCache
// does not skip the in-process cache, NoCache does not change the edge TTL.
func TestEdgeCacheAndReadCacheAreSeparate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := &edgeRecorder{BulkNamespace: memory.New(memory.Options{})}
	s := kv.Must(kv.New[string](rec, kv.Options{CacheTTL: time.Minute, EdgeCacheTTL: 2 * time.Minute}))
	require.NoError(t, s.Put(ctx, "k", "v"))
	_, _, _ = s.Get(ctx, "k")
	assert.Equal(t, []time.Duration{2 * time.Minute}, rec.take())
	_, _, _ = s.Get(ctx, "k", kv.NoEdgeCache())
	assert.Empty(t, rec.take(), "an in-process hit makes no read, whatever the edge option")
	_, _, _ = s.Get(ctx, "k", kv.NoCache())
	assert.Equal(t, []time.Duration{2 * time.Minute}, rec.take(), "NoCache reads with the Store's edge TTL")
	_, _, _ = s.Get(ctx, "k", kv.NoCache(), kv.NoEdgeCache())
	assert.Equal(t, []time.Duration{kv.MinEdgeCacheTTL}, rec.take())
}
