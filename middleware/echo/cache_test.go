package kvecho_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/middleware/internal/cachetest"
	"github.com/kvkit/kvkit/patterns/cache"
)

func cacheBuild(t *testing.T, rc *cache.ResponseCache, origin http.Handler) http.Handler {
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
}

func TestCache(t *testing.T) {
	t.Parallel()
	cachetest.Run(t, cacheBuild)
}

func cacheEnv(t *testing.T, o cache.ResponseOptions, setup func(e *echo.Echo, mw echo.MiddlewareFunc)) *cachetest.Env {
	return cachetest.NewEnv(t, func(t *testing.T, rc *cache.ResponseCache, origin http.Handler) http.Handler {
		e := echo.New()
		setup(e, kvecho.Cache(rc))
		return e
	}, o, func(http.ResponseWriter, *http.Request) {})
}

func TestCacheEchoHandlers(t *testing.T) {
	t.Parallel()
	t.Run("route params and c.JSON", func(t *testing.T) {
		t.Parallel()
		calls := 0
		env := cacheEnv(t, cache.ResponseOptions{}, func(e *echo.Echo, mw echo.MiddlewareFunc) {
			e.GET("/users/:id", func(c echo.Context) error {
				calls++
				return c.JSON(http.StatusOK, map[string]string{"id": c.Param("id")})
			}, mw)
		})
		for range 2 {
			rec := env.Do("GET", "/users/7")
			assert.Equal(t, 200, rec.Code)
			assert.JSONEq(t, `{"id":"7"}`, rec.Body.String())
			assert.Equal(t, echo.MIMEApplicationJSON, rec.Header().Get("Content-Type"))
		}
		assert.JSONEq(t, `{"id":"8"}`, env.Do("GET", "/users/8").Body.String())
		assert.Equal(t, 2, calls)
	})

	t.Run("a handler error reaches Echo and is not stored", func(t *testing.T) {
		t.Parallel()
		calls := 0
		env := cacheEnv(t, cache.ResponseOptions{}, func(e *echo.Echo, mw echo.MiddlewareFunc) {
			e.GET("/err", func(c echo.Context) error {
				calls++
				return echo.NewHTTPError(http.StatusTeapot, "nope")
			}, mw)
		})
		for range 2 {
			rec := env.Do("GET", "/err")
			assert.Equal(t, http.StatusTeapot, rec.Code)
			assert.Contains(t, rec.Body.String(), "nope")
		}
		assert.Equal(t, 2, calls)
	})

	t.Run("stale-if-error answers a handler error", func(t *testing.T) {
		t.Parallel()
		fail := false
		env := cacheEnv(t, cache.ResponseOptions{TTL: time.Minute, StaleIfError: time.Minute}, func(e *echo.Echo, mw echo.MiddlewareFunc) {
			e.GET("/x", func(c echo.Context) error {
				if fail {
					return errors.New("db down")
				}
				return c.String(http.StatusOK, "good")
			}, mw)
		})
		env.Do("GET", "/x")
		fail = true
		env.Clock.Advance(90 * time.Second)
		rec := env.Do("GET", "/x")
		assert.Equal(t, 200, rec.Code)
		assert.Equal(t, "good", rec.Body.String())
		assert.Equal(t, "kvkit; fwd=stale; detail=stale-if-error", rec.Header().Get("Cache-Status"))
	})

	t.Run("the response's status and size are right for outer middleware", func(t *testing.T) {
		t.Parallel()
		type seen struct {
			status int
			size   int64
		}
		var got []seen
		env := cacheEnv(t, cache.ResponseOptions{}, func(e *echo.Echo, mw echo.MiddlewareFunc) {
			e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					err := next(c)
					got = append(got, seen{c.Response().Status, c.Response().Size})
					return err
				}
			})
			e.GET("/n", func(c echo.Context) error { return c.String(http.StatusNotFound, "missing") }, mw)
		})
		env.Do("GET", "/n")
		env.Do("GET", "/n")
		assert.Equal(t, []seen{{404, 7}, {404, 7}}, got)
	})

	t.Run("skipper", func(t *testing.T) {
		t.Parallel()
		env := cachetest.NewEnv(t, func(t *testing.T, rc *cache.ResponseCache, origin http.Handler) http.Handler {
			e := echo.New()
			e.Use(kvecho.CacheWithConfig(kvecho.CacheConfig{
				Cache:   rc,
				Skipper: func(c echo.Context) bool { return c.QueryParam("nocache") != "" },
			}))
			e.GET("/*", echo.WrapHandler(origin))
			return e
		}, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("x")) })
		rec := env.Do("GET", "/a?nocache=1")
		assert.Empty(t, rec.Header().Get("Cache-Status"))
		env.Do("GET", "/a?nocache=1")
		assert.EqualValues(t, 2, env.Calls.Load())
		env.Do("GET", "/a")
		env.Do("GET", "/a")
		assert.EqualValues(t, 3, env.Calls.Load())
	})
}

func TestCacheEchoRefreshUsesNewContext(t *testing.T) {
	t.Parallel()
	refreshing := make(chan struct{})
	release := make(chan struct{})
	var n atomic.Int64
	env := cacheEnv(t, cache.ResponseOptions{TTL: time.Minute, StaleWhileRevalidate: time.Minute}, func(e *echo.Echo, mw echo.MiddlewareFunc) {
		e.GET("/items/:id", func(c echo.Context) error {
			i := n.Add(1)
			if cache.IsRefresh(c.Request().Context()) {
				close(refreshing)
				<-release // the request that started the refresh has ended by now
			}
			return c.String(http.StatusOK, fmt.Sprintf("%s#%d", c.Param("id"), i))
		}, mw)
	})
	assert.Equal(t, "5#1", env.Do("GET", "/items/5").Body.String())
	env.Clock.Advance(90 * time.Second)
	assert.Equal(t, "5#1", env.Do("GET", "/items/5").Body.String(), "stale")
	select {
	case <-refreshing:
	case <-time.After(5 * time.Second):
		t.Fatal("no refresh")
	}
	assert.Equal(t, "6#3", env.Do("GET", "/items/6").Body.String(), "the pooled context is reused meanwhile")
	close(release)
	require.Eventually(t, func() bool { return env.Cache.Stats().Stored == 3 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "5#2", env.Do("GET", "/items/5").Body.String(), "refreshed with its own route params")
}

// The refresh runs in a new echo.Context: values middleware outside the
// cache set are not there, middleware inside the cache runs again.
func TestCacheEchoRefreshContextValues(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	env := cacheEnv(t, cache.ResponseOptions{TTL: time.Minute, StaleWhileRevalidate: time.Minute}, func(e *echo.Echo, mw echo.MiddlewareFunc) {
		outer := func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error { c.Set("outer", "o"); return next(c) }
		}
		inner := func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error { c.Set("inner", "i"); return next(c) }
		}
		e.GET("/v", func(c echo.Context) error {
			return c.String(http.StatusOK, fmt.Sprintf("%d outer=%v inner=%v", n.Add(1), c.Get("outer"), c.Get("inner")))
		}, outer, mw, inner)
	})
	assert.Equal(t, "1 outer=o inner=i", env.Do("GET", "/v").Body.String())
	env.Clock.Advance(90 * time.Second)
	assert.Equal(t, "1 outer=o inner=i", env.Do("GET", "/v").Body.String(), "stale, refreshing")
	require.Eventually(t, func() bool { return env.Cache.Stats().Stored == 2 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "2 outer=<nil> inner=i", env.Do("GET", "/v").Body.String(), "the refresh carried no outer c.Set value")
}

// A HEAD miss runs the handler as a GET; the middleware around the cache
// sees the HEAD again afterwards.
func TestCacheEchoHeadMethodRestored(t *testing.T) {
	t.Parallel()
	var seen, after string
	env := cacheEnv(t, cache.ResponseOptions{}, func(e *echo.Echo, mw echo.MiddlewareFunc) {
		outer := func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error { err := next(c); after = c.Request().Method; return err }
		}
		e.HEAD("/h", func(c echo.Context) error {
			seen = c.Request().Method
			return c.String(http.StatusOK, "hello")
		}, outer, mw)
	})
	rec := env.Do("HEAD", "/h")
	assert.Equal(t, 200, rec.Code)
	assert.Empty(t, rec.Body.String())
	assert.Equal(t, "GET", seen)
	assert.Equal(t, "HEAD", after)
}

func TestCacheConfig(t *testing.T) {
	t.Parallel()
	_, err := kvecho.CacheConfig{}.ToMiddleware()
	assert.Error(t, err)
	assert.Panics(t, func() { kvecho.CacheWithConfig(kvecho.CacheConfig{}) })
	assert.Panics(t, func() { kvecho.Cache(nil) })
}

func TestCacheDirectContext(t *testing.T) {
	t.Parallel()
	env := cacheEnv(t, cache.ResponseOptions{}, func(*echo.Echo, echo.MiddlewareFunc) {})
	e := echo.New()
	mw := kvecho.Cache(env.Cache)
	h := mw(func(c echo.Context) error { return c.String(http.StatusOK, "direct") })
	for _, want := range []string{"kvkit; fwd=miss", "kvkit; hit; ttl=300"} {
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest("GET", "/d", nil), rec)
		require.NoError(t, h(c))
		assert.Equal(t, "direct", rec.Body.String())
		assert.Equal(t, want, rec.Header().Get("Cache-Status"))
		assert.True(t, c.Response().Committed)
	}
}
