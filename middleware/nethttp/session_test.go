package nethttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/internal/sessiontest"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/session"
)

func sessionWrap(_ *testing.T, m *session.Manager[sessiontest.User], h http.Handler) http.Handler {
	return nethttp.Session(m, nethttp.SessionOptions{})(h)
}

func TestSession(t *testing.T) {
	t.Parallel()
	sessiontest.Run(t, sessionWrap)
}

func TestSessionCustomErrorHandler(t *testing.T) {
	t.Parallel()
	var got error
	e := sessiontest.NewEnv(t, func(_ *testing.T, m *session.Manager[sessiontest.User], h http.Handler) http.Handler {
		return nethttp.Session(m, nethttp.SessionOptions{ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
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
	s := nethttp.GetSession(r, m)
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
	h := nethttp.Session(a, nethttp.SessionOptions{})(nethttp.Session(b, nethttp.SessionOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, nethttp.GetSession(r, a).Set(r.Context(), sessiontest.User{ID: "x"}))
		require.NoError(t, nethttp.GetSession(r, b).Set(r.Context(), "y"))
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	names := map[string]bool{}
	for _, c := range rec.Result().Cookies() {
		names[c.Name] = true
	}
	assert.Equal(t, map[string]bool{"a": true, "b": true}, names)
}
