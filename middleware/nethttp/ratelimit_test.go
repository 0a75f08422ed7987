package nethttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/middleware/internal/ratelimittest"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/counter"
)

// ratelimitOK is the handler behind the middleware in the shared cases.
var ratelimitOK = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })

// Not parallel at the top level, so that the leak check sees only this
// test's goroutines (the package is shared: no TestMain of one pattern).
func TestRateLimitSharedCases(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	ratelimittest.Run(t, func(t *testing.T, s ratelimittest.Setup) http.Handler {
		mw, err := nethttp.RateLimitConfig{Limiter: s.Limiter, KeyFunc: s.Key, FailClosed: s.FailClosed, Headers: s.Headers}.ToMiddleware()
		require.NoError(t, err)
		return mw(ratelimitOK)
	})
}

func TestRateLimitConfig(t *testing.T) {
	t.Parallel()
	_, err := nethttp.RateLimitConfig{KeyFunc: httpkey.ByIP(httpkey.IPConfig{})}.ToMiddleware()
	assert.ErrorIs(t, err, nethttp.ErrInvalidConfig)
	assert.Panics(t, func() { nethttp.RateLimit(nil, nil) })
}

func TestRateLimitCustomHandlers(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	lim, err := counter.NewLimiter(memory.New(memory.Options{}), 1, time.Minute, counter.LimiterOptions{Tick: make(chan time.Time)})
	require.NoError(t, err)
	defer func() { assert.NoError(t, lim.Close(context.Background())) }()
	var keyErr error
	h := nethttp.RateLimitWithConfig(nethttp.RateLimitConfig{
		Limiter: lim, KeyFunc: httpkey.ByHeader("X-Tenant"),
		DenyHandler: func(w http.ResponseWriter, _ *http.Request, _ counter.Result) { w.WriteHeader(http.StatusTeapot) },
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			keyErr = err
			w.WriteHeader(http.StatusUnauthorized)
		},
		Headers: counter.Headers{Limit: "X-Quota", Remaining: "-"},
	})(ratelimitOK)

	serve := func(tenant string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tenant != "" {
			r.Header.Set("X-Tenant", tenant)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	assert.Equal(t, http.StatusUnauthorized, serve("").Code)
	assert.ErrorIs(t, keyErr, httpkey.ErrNoKey)
	w := serve("t1")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "1", w.Header().Get("X-Quota"))
	assert.Empty(t, w.Header().Values("X-RateLimit-Remaining"))
	assert.Equal(t, http.StatusTeapot, serve("t1").Code)
}
