package session_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type user struct {
	ID string `json:"id"`
}

func TestTokens(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		tok := session.NewToken()
		require.Len(t, tok, session.TokenLen)
		require.True(t, session.ValidToken(tok), tok)
		require.False(t, seen[tok])
		seen[tok] = true
	}
	good := session.NewToken()
	for name, tok := range map[string]string{
		"empty": "", "short": good[:42], "long": good + "A", "plus": "+" + good[1:],
		"slash": "/" + good[1:], "dot": "." + good[1:], "padding": good[:42] + "=",
		"stray low bits": good[:42] + "B", "traversal": "../x", "10 KB": strings.Repeat("A", 10<<10),
		"non-ascii": "é" + good[2:],
	} {
		assert.False(t, session.ValidToken(tok), name)
	}
	assert.True(t, session.ValidToken(good[:42]+"A"))
	assert.True(t, session.ValidToken(good[:42]+"E"))
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	ns := memory.New(memory.Options{})
	for name, opts := range map[string]session.Options{
		"negative lifetime":   {Lifetime: -time.Second},
		"short lifetime":      {Lifetime: 30 * time.Second},
		"short idle":          {IdleTimeout: time.Second},
		"long prefix":         {Prefix: strings.Repeat("p", 480)},
		"bad cookie name":     {Cookie: session.Cookie{Name: "a b"}},
		"SameSite=None plain": {Cookie: session.Cookie{SameSite: http.SameSiteNoneMode, Insecure: true}},
		"negative CacheTTL":   {CacheTTL: -time.Second},
		"negative CacheSize":  {CacheTTL: time.Second, CacheSize: -1},
	} {
		_, err := session.New[user](ns, opts)
		assert.ErrorIs(t, err, kv.ErrInvalidOptions, name)
	}
	_, err := session.New[user](nil, session.Options{})
	assert.ErrorIs(t, err, kv.ErrInvalidOptions)
	_, err = session.New[chan int](ns, session.Options{})
	assert.ErrorIs(t, err, kv.ErrCodec, "T must encode as JSON")
	m, err := session.New[user](ns, session.Options{})
	require.NoError(t, err)
	assert.Equal(t, "session", m.CookieName())
}

// TestOpenCommit drives the framework-free API: Open a token, change, Commit.
func TestOpenCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := kvtest.NewClock()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{Clock: clock.Now}))
	m := session.Must(session.New[user](ns, session.Options{Clock: clock.Now}))

	s := m.Open("")
	require.NoError(t, s.Set(ctx, user{ID: "u1"}))
	c, err := s.Commit(ctx)
	require.NoError(t, err)
	require.NotNil(t, c)
	assert.ErrorIs(t, s.Set(ctx, user{ID: "late"}), session.ErrCommitted)
	c2, err := s.Commit(ctx)
	require.NoError(t, err)
	assert.Same(t, c, c2, "Commit runs once")

	s = m.Open(c.Value)
	v, ok, err := s.Get(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, user{ID: "u1"}, v)
	c, err = s.Commit(ctx)
	require.NoError(t, err)
	assert.Nil(t, c, "unchanged: no cookie")
	assert.Equal(t, int64(1), ns.Counts().Put)

	// A corrupt record is an error, not an empty session.
	require.NoError(t, ns.Put(ctx, "session:"+hashToken(c2.Value), []byte("{not json"), kv.PutOptions{}))
	_, _, err = m.Open(c2.Value).Get(ctx)
	assert.ErrorIs(t, err, kv.ErrCodec)

	// Update's error leaves the session unchanged.
	s = m.Open("")
	assert.EqualError(t, s.Update(ctx, func(*user) error { return assert.AnError }), assert.AnError.Error())
	ok, err = s.Exists(ctx)
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestStartReadsCookieWithoutKV(t *testing.T) {
	t.Parallel()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{}))
	m := session.Must(session.New[user](ns, session.Options{}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("Cookie", "a=1; session=\""+session.NewToken()+"\"")
	p := m.Start(r)
	s := m.FromContext(p.Context())
	require.NotNil(t, s)
	assert.Nil(t, m.FromContext(r.Context()))
	other := session.Must(session.New[user](ns, session.Options{}))
	assert.Nil(t, other.FromContext(p.Context()), "the key is per manager")
	assert.Equal(t, kvtest.Counts{}, ns.Counts())
	_, ok, err := s.Get(context.Background())
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, int64(1), ns.Counts().Get, "a quoted, well-formed token is looked up")
}

func TestUserID(t *testing.T) {
	t.Parallel()
	ns := memory.New(memory.Options{})
	m := session.Must(session.New[user](ns, session.Options{}))
	uid := m.UserID(func(u user) string { return u.ID })
	r := httptest.NewRequest("GET", "/", nil)
	assert.Empty(t, uid(r), "no middleware: no user")
	s := m.Open("")
	require.NoError(t, s.Set(context.Background(), user{ID: "u9"}))
	c, err := s.Commit(context.Background())
	require.NoError(t, err)
	r.AddCookie(c)
	r = r.WithContext(m.Start(r).Context())
	assert.Equal(t, "u9", uid(r))
}

func TestFailuresAreLoggedWithoutFlooding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := kvtest.NewClock()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{Clock: clock.Now}))
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	m := session.Must(session.New[user](ns, session.Options{Clock: clock.Now, Logger: log}))
	ns.FailWith(kv.ErrUnavailable)
	for range 5 {
		s := m.Open(session.NewToken())
		_, _, err := s.Get(ctx)
		require.ErrorIs(t, err, kv.ErrUnavailable)
		_, err = s.Commit(ctx)
		require.ErrorIs(t, err, kv.ErrUnavailable, "Commit reports the failed load")
	}
	assert.Equal(t, 1, strings.Count(buf.String(), "commit failed"), buf.String())
	clock.Advance(time.Second)
	_, _ = m.Open(session.NewToken()).Commit(ctx) // no load: nothing to report
	s := m.Open(session.NewToken())
	_, _, _ = s.Get(ctx)
	_, _ = s.Commit(ctx)
	assert.Equal(t, 2, strings.Count(buf.String(), "commit failed"))
	assert.Contains(t, buf.String(), "suppressed=4")
}

func TestExpires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := kvtest.NewClock()
	ns := memory.New(memory.Options{Clock: clock.Now})
	m := session.Must(session.New[user](ns, session.Options{Clock: clock.Now, Lifetime: 24 * time.Hour, IdleTimeout: time.Hour}))

	_, ok, err := m.Open("").Expires(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "no session, no expiry")

	s := m.Open("")
	require.NoError(t, s.Set(ctx, user{ID: "u1"}))
	c, err := s.Commit(ctx)
	require.NoError(t, err)
	exp, ok, err := m.Open(c.Value).Expires(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, clock.Now().Add(time.Hour), exp.UTC(), "the idle deadline comes first")

	var nilSession *session.Session[user]
	_, _, err = nilSession.Expires(ctx)
	assert.ErrorIs(t, err, session.ErrNoMiddleware)
}
