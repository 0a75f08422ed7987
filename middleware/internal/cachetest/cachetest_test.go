package cachetest_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
	"go.uber.org/goleak"

	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/middleware/internal/cachetest"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/cache"
)

// The middleware packages are shared by several patterns and can hold only
// one TestMain, so the leak check of the cache middlewares lives here: the
// whole table again, for both frameworks, under goleak.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNetHTTPNoLeaks(t *testing.T) {
	t.Parallel()
	cachetest.Run(t, func(t *testing.T, rc *cache.ResponseCache, origin http.Handler) http.Handler {
		return nethttp.Cache(rc)(origin)
	})
}

func TestEchoNoLeaks(t *testing.T) {
	t.Parallel()
	cachetest.Run(t, func(t *testing.T, rc *cache.ResponseCache, origin http.Handler) http.Handler {
		e := echo.New()
		e.Use(kvecho.Cache(rc))
		h := echo.WrapHandler(origin)
		e.GET("/*", h)
		e.HEAD("/*", h)
		e.POST("/*", h)
		e.PUT("/*", h)
		e.PATCH("/*", h)
		e.DELETE("/*", h)
		return e
	})
}
