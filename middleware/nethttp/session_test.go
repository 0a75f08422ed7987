package nethttp_test

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/internal/sessiontest"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/session"
)

func sessionWrap(_ *testing.T, m *session.Manager[sessiontest.User], h http.Handler) http.Handler {
	return nethttp.Session(m)(h)
}

func TestSession(t *testing.T) {
	t.Parallel()
	sessiontest.Run(t, sessionWrap)
}

func TestSessionCustomErrorHandler(t *testing.T) {
	t.Parallel()
	var got error
	e := sessiontest.NewEnv(t, func(_ *testing.T, m *session.Manager[sessiontest.User], h http.Handler) http.Handler {
		return nethttp.SessionWithConfig(nethttp.SessionConfig{Manager: m, ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			got = err
			http.Error(w, "try later", http.StatusServiceUnavailable)
		}})(h)
	}, session.Options{})
	e.Login("u1")
	e.KV.FailWith(kv.ErrUnavailable)
	resp, body := e.Do("GET", "/get")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "try later\n", body)
	assert.ErrorIs(t, got, kv.ErrUnavailable)
}

func TestSessionWithoutMiddleware(t *testing.T) {
	t.Parallel()
	m := session.Must(session.New[sessiontest.User](memory.New(memory.Options{}), session.Options{}))
	r := httptest.NewRequest("GET", "/", nil)
	s := nethttp.SessionFrom(r, m)
	require.Nil(t, s)
	_, _, err := s.Get(r.Context())
	assert.ErrorIs(t, err, session.ErrNoMiddleware)
	assert.ErrorIs(t, s.Set(r.Context(), sessiontest.User{}), session.ErrNoMiddleware)
}

func TestSessionTwoManagersOnOneRequest(t *testing.T) {
	t.Parallel()
	ns := memory.New(memory.Options{})
	a := session.Must(session.New[sessiontest.User](ns, session.Options{Prefix: "a:", Cookie: session.Cookie{Name: "a"}}))
	b := session.Must(session.New[string](ns, session.Options{Prefix: "b:", Cookie: session.Cookie{Name: "b"}}))
	h := nethttp.Session(a)(nethttp.Session(b)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, nethttp.SessionFrom(r, a).Set(r.Context(), sessiontest.User{ID: "x"}))
		require.NoError(t, nethttp.SessionFrom(r, b).Set(r.Context(), "y"))
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	names := map[string]bool{}
	for _, c := range rec.Result().Cookies() {
		names[c.Name] = true
	}
	assert.Equal(t, map[string]bool{"a": true, "b": true}, names)
}

// TestSessionKVCallsPer1000Requests is the traffic mix: 50 signed-in
// users, 1,000 requests, 90% reads and 10% writes of the session. Target:
// at most one read per request and one write per changing request.
func TestSessionKVCallsPer1000Requests(t *testing.T) {
	t.Parallel()
	counts := sessionMix(t, 50, 1000, 0.10, 0)
	t.Logf("KV calls for 1,000 requests (50 users, 90%% reads / 10%% writes): reads=%d writes=%d (get=%d put=%d delete=%d)",
		counts.Reads(), counts.Writes(), counts.Get, counts.Put, counts.Delete)
	assert.LessOrEqual(t, counts.Reads(), int64(1000))
	assert.LessOrEqual(t, counts.Writes(), int64(100+10)) // 10%: binomial noise around 100, fixed seed
	assert.Zero(t, counts.Delete, "no renewals in this mix")
}

// TestSessionKVCallsPer1000RequestsCached is a browsing mix with the read
// cache on: 50 users, 2% of requests changing the session, 1,000 requests
// over 10 s (one every 10 ms) with CacheTTL 5 s.
func TestSessionKVCallsPer1000RequestsCached(t *testing.T) {
	t.Parallel()
	counts := sessionMix(t, 50, 1000, 0.02, 5*time.Second)
	t.Logf("KV calls for 1,000 requests (50 users, 98%% reads / 2%% writes, CacheTTL 5 s): reads=%d writes=%d",
		counts.Reads(), counts.Writes())
	// Each user is read at most once per CacheTTL window (two windows):
	// the logins filled the first, so at most one read per user.
	assert.LessOrEqual(t, counts.Reads(), int64(50))
	assert.LessOrEqual(t, counts.Writes(), int64(20+10))
}

// sessionMix signs in users, then sends n requests (10 ms apart), a share
// of them changing the session, and returns the KV calls of those n
// requests. cacheTTL is the Manager's Options.CacheTTL.
func sessionMix(t testing.TB, users, n int, writeShare float64, cacheTTL time.Duration) kvtest.Counts {
	clock := kvtest.NewClock()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{Clock: clock.Now}))
	m := session.Must(session.New[sessiontest.User](ns, session.Options{IdleTimeout: time.Hour, CacheTTL: cacheTTL, Clock: clock.Now}))
	h := nethttp.Session(m)(sessiontest.Routes(m))
	cookies := make([]string, users)
	for i := range cookies {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/login?id=u"+strconv.Itoa(i), nil))
		c := rec.Result().Cookies()
		require.Len(t, c, 1)
		cookies[i] = "session=" + c[0].Value
	}
	ns.Reset()
	rng := rand.New(rand.NewPCG(1, 2))
	writes := 0
	for range n {
		clock.Advance(10 * time.Millisecond)
		req := httptest.NewRequest("GET", "/get", nil)
		if rng.Float64() < writeShare {
			req = httptest.NewRequest("POST", "/incr", nil)
			writes++
		}
		req.Header.Set("Cookie", cookies[rng.IntN(users)])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
	}
	counts := ns.Counts()
	assert.Equal(t, int64(writes), counts.Put, "exactly one write per changing request")
	return counts
}
