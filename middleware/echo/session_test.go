package kvecho_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/middleware/internal/sessiontest"
	"github.com/kvkit/kvkit/patterns/session"
)

func sessionEcho(cfg kvecho.SessionConfig, h http.Handler) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.Use(kvecho.SessionWithConfig(cfg))
	e.Any("/*", echo.WrapHandler(h))
	return e
}

func TestSession(t *testing.T) {
	t.Parallel()
	sessiontest.Run(t, func(_ *testing.T, m *session.Manager[sessiontest.User], h http.Handler) http.Handler {
		return sessionEcho(kvecho.SessionConfig{Manager: m}, h)
	})
}

func TestSessionSkipper(t *testing.T) {
	t.Parallel()
	e := sessiontest.NewEnv(t, func(_ *testing.T, m *session.Manager[sessiontest.User], h http.Handler) http.Handler {
		return sessionEcho(kvecho.SessionConfig{Manager: m, Skipper: func(c echo.Context) bool {
			return c.Request().URL.Path == "/get"
		}}, h)
	}, session.Options{})
	e.Login("u1")
	_, body := e.Do("GET", "/get")
	assert.Equal(t, "error", body, "skipped: no session middleware, the handler sees ErrNoMiddleware")
	assert.Equal(t, int64(0), e.KV.Counts().Total())
}

func TestSessionErrorHandler(t *testing.T) {
	t.Parallel()
	var got error
	e := sessiontest.NewEnv(t, func(_ *testing.T, m *session.Manager[sessiontest.User], h http.Handler) http.Handler {
		return sessionEcho(kvecho.SessionConfig{Manager: m, ErrorHandler: func(c echo.Context, err error) error {
			got = err
			return echo.NewHTTPError(http.StatusServiceUnavailable, "try later").WithInternal(err)
		}}, h)
	}, session.Options{})
	e.Login("u1")
	e.KV.FailWith(kv.ErrUnavailable)
	resp, body := e.Do("GET", "/silent") // fails after the handler returned without writing
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.JSONEq(t, `{"message":"try later"}`, body)
	assert.ErrorIs(t, got, kv.ErrUnavailable)
}

func TestSessionReturnsHTTPErrorForLogging(t *testing.T) {
	t.Parallel()
	ns := sessionKVFailing()
	m := session.Must(session.New[string](ns, session.Options{}))
	mw := kvecho.Session(m)
	e := echo.New()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "session="+session.NewToken())
	rec := httptest.NewRecorder()
	c := e.NewContext(req, rec)
	err := mw(func(c echo.Context) error {
		_, _, _ = kvecho.SessionFrom(c, m).Get(c.Request().Context())
		return c.String(http.StatusOK, "half")
	})(c)
	var he *echo.HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusInternalServerError, he.Code)
	assert.ErrorIs(t, err, kv.ErrUnavailable)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "half")
}

func TestSessionConfig(t *testing.T) {
	t.Parallel()
	_, err := kvecho.SessionConfig{}.ToMiddleware()
	assert.Error(t, err)
	assert.Panics(t, func() { kvecho.SessionWithConfig(kvecho.SessionConfig{}) })
	m := session.Must(session.New[string](memory.New(memory.Options{}), session.Options{}))
	mw, err := kvecho.SessionConfig{Manager: m}.ToMiddleware()
	require.NoError(t, err)
	assert.NotNil(t, mw)
}

func sessionKVFailing() kv.Namespace {
	c := sessionCounting()
	c.FailWith(errors.Join(kv.ErrUnavailable))
	return c
}
