package session_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/session"
)

const sessionCacheTTL = 5 * time.Second

type sessionCacheFixture struct {
	clock *kvtest.Clock
	mem   *memory.Namespace
	ns    *kvtest.CountingBulk
	m     *session.Manager[user]
}

func newSessionCacheFixture(t *testing.T, opts session.Options) *sessionCacheFixture {
	t.Helper()
	f := &sessionCacheFixture{clock: kvtest.NewClock()}
	f.mem = memory.New(memory.Options{Clock: f.clock.Now})
	f.ns = kvtest.NewCountingBulk(f.mem)
	opts.Clock = f.clock.Now
	if opts.CacheTTL == 0 {
		opts.CacheTTL = sessionCacheTTL
	}
	f.m = f.manager(t, opts)
	return f
}

func (f *sessionCacheFixture) manager(t *testing.T, opts session.Options) *session.Manager[user] {
	t.Helper()
	opts.Clock = f.clock.Now
	m, err := session.New[user](f.ns, opts)
	require.NoError(t, err)
	return m
}

// sessionLogin creates a session holding v and returns its token.
func sessionLogin(t *testing.T, m *session.Manager[user], v user) string {
	t.Helper()
	s := m.Open("")
	require.NoError(t, s.Set(context.Background(), v))
	c, err := s.Commit(context.Background())
	require.NoError(t, err)
	require.NotNil(t, c)
	return c.Value
}

// sessionLoad opens token, reads it and commits (as a page view does).
func sessionLoad(t *testing.T, m *session.Manager[user], token string) (user, bool) {
	t.Helper()
	s := m.Open(token)
	v, ok, err := s.Get(context.Background())
	require.NoError(t, err)
	_, err = s.Commit(context.Background())
	require.NoError(t, err)
	return v, ok
}

func TestCacheReadsOncePerTTL(t *testing.T) {
	t.Parallel()
	f := newSessionCacheFixture(t, session.Options{})
	tok := sessionLogin(t, f.m, user{ID: "u1"})
	f.ns.Reset()
	for range 100 {
		v, ok := sessionLoad(t, f.m, tok)
		require.True(t, ok)
		require.Equal(t, user{ID: "u1"}, v)
	}
	assert.Equal(t, kvtest.Counts{}, f.ns.Counts(), "the login's write filled the cache: no read at all")

	f.clock.Advance(sessionCacheTTL)
	for range 100 {
		_, ok := sessionLoad(t, f.m, tok)
		require.True(t, ok)
	}
	assert.Equal(t, int64(1), f.ns.Counts().Get, "100 loads after the entry expired = 1 read")
	assert.Equal(t, int64(1), f.ns.Counts().Total())

	// A manager without the login's write fills on its first read.
	other := f.manager(t, session.Options{CacheTTL: sessionCacheTTL})
	f.ns.Reset()
	for range 100 {
		_, ok := sessionLoad(t, other, tok)
		require.True(t, ok)
	}
	assert.Equal(t, int64(1), f.ns.Counts().Get)
}

func TestCacheOffReadsEveryTime(t *testing.T) {
	t.Parallel()
	f := newSessionCacheFixture(t, session.Options{})
	m := f.manager(t, session.Options{}) // CacheTTL 0
	tok := sessionLogin(t, m, user{ID: "u1"})
	f.ns.Reset()
	for range 3 {
		_, ok := sessionLoad(t, m, tok)
		require.True(t, ok)
	}
	assert.Equal(t, int64(3), f.ns.Counts().Get)
}

func TestCacheOwnWritesAreImmediate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSessionCacheFixture(t, session.Options{})
	tok := sessionLogin(t, f.m, user{ID: "u1"})
	_, ok := sessionLoad(t, f.m, tok)
	require.True(t, ok)

	t.Run("set", func(t *testing.T) {
		s := f.m.Open(tok)
		require.NoError(t, s.Set(ctx, user{ID: "u2"}))
		_, err := s.Commit(ctx)
		require.NoError(t, err)
		v, ok := sessionLoad(t, f.m, tok)
		require.True(t, ok)
		assert.Equal(t, user{ID: "u2"}, v)
	})

	t.Run("renew", func(t *testing.T) {
		s := f.m.Open(tok)
		require.NoError(t, s.Renew(ctx))
		c, err := s.Commit(ctx)
		require.NoError(t, err)
		require.NotNil(t, c)
		f.ns.Reset()
		_, ok := sessionLoad(t, f.m, tok)
		assert.False(t, ok, "the old token is dead at once")
		v, ok := sessionLoad(t, f.m, c.Value)
		assert.True(t, ok)
		assert.Equal(t, user{ID: "u2"}, v)
		assert.Equal(t, int64(0), f.ns.Counts().Get, "both answered by the cache")
		tok = c.Value
	})

	t.Run("destroy", func(t *testing.T) {
		s := f.m.Open(tok)
		require.NoError(t, s.Destroy(ctx))
		_, err := s.Commit(ctx)
		require.NoError(t, err)
		f.ns.Reset()
		_, ok := sessionLoad(t, f.m, tok)
		assert.False(t, ok, "sign-out is immediate in this process")
		assert.Equal(t, int64(0), f.ns.Counts().Get, "known absent")
		_, found, err := f.mem.Get(ctx, "session:"+hashToken(tok), kv.GetOptions{})
		require.NoError(t, err)
		assert.False(t, found)
	})
}

func TestCacheOtherManagersWritesAfterTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSessionCacheFixture(t, session.Options{})
	other := f.manager(t, session.Options{CacheTTL: sessionCacheTTL}) // another server
	tok := sessionLogin(t, f.m, user{ID: "u1"})
	_, ok := sessionLoad(t, other, tok)
	require.True(t, ok)

	s := f.m.Open(tok)
	require.NoError(t, s.Destroy(ctx))
	_, err := s.Commit(ctx)
	require.NoError(t, err)

	f.clock.Advance(sessionCacheTTL - time.Millisecond)
	_, ok = sessionLoad(t, other, tok)
	assert.True(t, ok, "the documented window: another server's sign-out is unseen for up to CacheTTL")
	f.clock.Advance(time.Millisecond)
	_, ok = sessionLoad(t, other, tok)
	assert.False(t, ok, "seen once CacheTTL has passed")
}

func TestCacheHonoursDeadlines(t *testing.T) {
	t.Parallel()
	const long = time.Hour // a CacheTTL far beyond the deadlines

	t.Run("absolute", func(t *testing.T) {
		t.Parallel()
		f := newSessionCacheFixture(t, session.Options{CacheTTL: long, Lifetime: 2 * time.Minute})
		tok := sessionLogin(t, f.m, user{ID: "u1"})
		f.clock.Advance(2*time.Minute - time.Millisecond)
		_, ok := sessionLoad(t, f.m, tok)
		require.True(t, ok)
		f.clock.Advance(time.Millisecond)
		_, ok = sessionLoad(t, f.m, tok)
		assert.False(t, ok, "expired at its absolute deadline, cache or not")
	})

	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		f := newSessionCacheFixture(t, session.Options{CacheTTL: long, IdleTimeout: 2 * time.Minute})
		tok := sessionLogin(t, f.m, user{ID: "u1"})
		// A load past half the idle window slides the deadline: a write,
		// which refreshes the cached record too.
		f.clock.Advance(90 * time.Second)
		f.ns.Reset()
		_, ok := sessionLoad(t, f.m, tok)
		require.True(t, ok)
		assert.Equal(t, int64(1), f.ns.Counts().Put, "sliding refresh")
		f.clock.Advance(2*time.Minute - time.Millisecond)
		_, ok = sessionLoad(t, f.m, tok)
		require.True(t, ok, "the cache holds the slid deadline")
		assert.Equal(t, int64(0), f.ns.Counts().Get)
		f.clock.Advance(2*time.Minute + time.Millisecond)
		_, ok = sessionLoad(t, f.m, tok)
		assert.False(t, ok, "idle past its deadline")
	})
}

func TestCacheMissesAreCached(t *testing.T) {
	t.Parallel()
	f := newSessionCacheFixture(t, session.Options{})
	forged := session.NewToken()
	for range 100 {
		_, ok := sessionLoad(t, f.m, forged)
		require.False(t, ok)
	}
	assert.Equal(t, int64(1), f.ns.Counts().Get, "a forged token costs one read per CacheTTL")
	f.clock.Advance(sessionCacheTTL)
	_, ok := sessionLoad(t, f.m, forged)
	require.False(t, ok)
	assert.Equal(t, int64(2), f.ns.Counts().Get)
	assert.Equal(t, int64(2), f.ns.Counts().Total())
}

func TestCacheDoesNotShareData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := kvtest.NewClock()
	m := session.Must(session.New[map[string]int](memory.New(memory.Options{Clock: clock.Now}),
		session.Options{Clock: clock.Now, CacheTTL: time.Minute}))
	s := m.Open("")
	require.NoError(t, s.Set(ctx, map[string]int{"n": 1}))
	c, err := s.Commit(ctx)
	require.NoError(t, err)
	a, _, err := m.Open(c.Value).Get(ctx)
	require.NoError(t, err)
	a["n"] = 99 // against the docs, but must not leak into other requests
	b, _, err := m.Open(c.Value).Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, b["n"], "T holds a map: the cache keeps JSON and every load decodes its own")
}

// sessionBlockingNS blocks the first Get after it is armed, after reading,
// until released: a read that fetched a record before a write finished.
type sessionBlockingNS struct {
	kv.Namespace
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (b *sessionBlockingNS) Get(ctx context.Context, key string, o kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	it, found, err := b.Namespace.Get(ctx, key, o)
	if b.armed.CompareAndSwap(true, false) {
		b.entered <- struct{}{}
		<-b.release
	}
	return it, found, err
}

func TestCacheReadRacingWriteIsNotCached(t *testing.T) {
	t.Parallel()
	for name, write := range map[string]func(context.Context, *session.Session[user]) error{
		"set":     func(ctx context.Context, s *session.Session[user]) error { return s.Set(ctx, user{ID: "new"}) },
		"destroy": func(ctx context.Context, s *session.Session[user]) error { return s.Destroy(ctx) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := kvtest.NewClock()
			ns := &sessionBlockingNS{
				Namespace: memory.New(memory.Options{Clock: clock.Now}),
				entered:   make(chan struct{}), release: make(chan struct{}),
			}
			writer := session.Must(session.New[user](ns, session.Options{Clock: clock.Now}))
			tok := sessionLogin(t, writer, user{ID: "old"}) // no cache: nothing cached yet
			m := session.Must(session.New[user](ns, session.Options{Clock: clock.Now, CacheTTL: time.Hour}))

			ns.armed.Store(true)
			done := make(chan user)
			go func() {
				v, _, _ := m.Open(tok).Get(ctx)
				done <- v
			}()
			<-ns.entered // the read has fetched the old record
			s := m.Open(tok)
			require.NoError(t, write(ctx, s))
			_, err := s.Commit(ctx)
			require.NoError(t, err)
			close(ns.release)
			assert.Equal(t, user{ID: "old"}, <-done)

			v, ok, err := m.Open(tok).Get(ctx)
			require.NoError(t, err)
			if name == "destroy" {
				assert.False(t, ok, "the stale read must not resurrect a destroyed session")
			} else {
				assert.True(t, ok)
				assert.Equal(t, user{ID: "new"}, v, "the stale read must not be cached over the write")
			}
		})
	}
}

// sessionBlockingPutNS blocks the first Put after it is armed, before or
// after writing, until released: two writes whose KV calls overlap.
type sessionBlockingPutNS struct {
	kv.Namespace
	after   bool // block after writing
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (b *sessionBlockingPutNS) Put(ctx context.Context, key string, value []byte, o kv.PutOptions) error {
	block := b.armed.CompareAndSwap(true, false)
	if block && !b.after {
		b.entered <- struct{}{}
		<-b.release
	}
	err := b.Namespace.Put(ctx, key, value, o)
	if block && b.after {
		b.entered <- struct{}{}
		<-b.release
	}
	return err
}

func TestCacheRacingWritesAreNotCached(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		after bool
		inKV  string
	}{
		"first write lands last":  {after: false, inKV: "v1"},
		"first write lands first": {after: true, inKV: "v2"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := kvtest.NewClock()
			ns := &sessionBlockingPutNS{
				Namespace: memory.New(memory.Options{Clock: clock.Now}), after: tc.after,
				entered: make(chan struct{}), release: make(chan struct{}),
			}
			m := session.Must(session.New[user](ns, session.Options{Clock: clock.Now, CacheTTL: time.Hour}))
			tok := sessionLogin(t, m, user{ID: "v0"})

			first, second := m.Open(tok), m.Open(tok)
			require.NoError(t, first.Set(ctx, user{ID: "v1"}))
			require.NoError(t, second.Set(ctx, user{ID: "v2"}))
			ns.armed.Store(true)
			done := make(chan error)
			go func() {
				_, err := first.Commit(ctx)
				done <- err
			}()
			<-ns.entered // the first write is in flight
			_, err := second.Commit(ctx)
			require.NoError(t, err)
			close(ns.release)
			require.NoError(t, <-done)

			// Whichever write KV kept, the cache must agree with it.
			v, ok := sessionLoad(t, m, tok)
			require.True(t, ok)
			assert.Equal(t, user{ID: tc.inKV}, v)
		})
	}
}

func TestCacheKeepsItsOwnCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSessionCacheFixture(t, session.Options{})
	tok := sessionLogin(t, f.m, user{ID: "u1"})
	s := f.m.Open(tok)
	require.NoError(t, s.Set(ctx, user{ID: "uncommitted"})) // changes the Session's copy only
	v, ok := sessionLoad(t, f.m, tok)
	require.True(t, ok)
	assert.Equal(t, user{ID: "u1"}, v)
}
