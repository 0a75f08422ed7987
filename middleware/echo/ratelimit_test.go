package kvecho_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv/memory"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/middleware/internal/ratelimittest"
	"github.com/kvkit/kvkit/patterns/counter"
)

func ratelimitOK(c echo.Context) error { return c.String(http.StatusOK, "ok") }

// Not parallel at the top level, so that the leak check sees only this
// test's goroutines (the package is shared: no TestMain of one pattern).
func TestRateLimitSharedCases(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	ratelimittest.Run(t, func(t *testing.T, s ratelimittest.Setup) http.Handler {
		mw, err := kvecho.RateLimitConfig{
			Limiter: s.Limiter, KeyFunc: s.Key, FailClosed: s.FailClosed, Headers: s.Headers,
		}.ToMiddleware()
		require.NoError(t, err)
		e := echo.New()
		e.Use(mw)
		e.GET("/", ratelimitOK)
		return e
	})
}

func ratelimitLimiter(t *testing.T, limit int) *counter.Limiter {
	t.Helper()
	lim, err := counter.NewLimiter(memory.New(memory.Options{}), limit, time.Minute, counter.LimiterOptions{Tick: make(chan time.Time)})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, lim.Close(context.Background())) })
	return lim
}

func TestRateLimitEchoConventions(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })

	t.Run("missing required fields", func(t *testing.T) {
		_, err := kvecho.RateLimitConfig{KeyFunc: httpkey.ByIP(httpkey.IPConfig{})}.ToMiddleware()
		assert.Error(t, err)
		assert.Panics(t, func() { kvecho.RateLimitWithConfig(kvecho.RateLimitConfig{}) })
		assert.Panics(t, func() { kvecho.RateLimit(nil, httpkey.ByIP(httpkey.IPConfig{})) })
	})

	t.Run("limited request returns ErrRateLimitExceeded with headers set", func(t *testing.T) {
		lim := ratelimitLimiter(t, 1)
		mw := kvecho.RateLimit(lim, httpkey.ByIP(httpkey.IPConfig{}))
		e := echo.New()
		call := func() (*httptest.ResponseRecorder, error) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			rec := httptest.NewRecorder()
			return rec, mw(ratelimitOK)(e.NewContext(req, rec))
		}
		_, err := call()
		require.NoError(t, err)
		rec, err := call()
		assert.ErrorIs(t, err, kvecho.ErrRateLimitExceeded)
		assert.Equal(t, "0", rec.Header().Get("X-RateLimit-Remaining"))
		assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	})

	t.Run("key errors are HTTPErrors with Internal set", func(t *testing.T) {
		lim := ratelimitLimiter(t, 1)
		mw := kvecho.RateLimit(lim, httpkey.ByHeader("X-Tenant"))
		e := echo.New()
		err := mw(ratelimitOK)(e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder()))
		var he *echo.HTTPError
		require.True(t, errors.As(err, &he))
		assert.Equal(t, http.StatusBadRequest, he.Code)
		assert.ErrorIs(t, err, httpkey.ErrNoKey)
	})

	t.Run("skipper and custom deny handler", func(t *testing.T) {
		lim := ratelimitLimiter(t, 1)
		mw := kvecho.RateLimitWithConfig(kvecho.RateLimitConfig{
			Skipper: func(c echo.Context) bool { return c.Request().URL.Path == "/health" },
			Limiter: lim, KeyFunc: httpkey.ByIP(httpkey.IPConfig{}),
			DenyHandler: func(c echo.Context, res counter.Result) error {
				return c.String(http.StatusTeapot, res.RetryAfter.Round(time.Second).String())
			},
		})
		e := echo.New()
		e.Use(mw)
		e.GET("/", ratelimitOK)
		e.GET("/health", ratelimitOK)
		codes := []int{}
		for _, path := range []string{"/", "/health", "/health", "/"} {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			codes = append(codes, rec.Code)
		}
		assert.Equal(t, []int{200, 200, 200, http.StatusTeapot}, codes)
	})
}
