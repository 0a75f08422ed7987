package kvecho_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kvkit/kvkit/kv/memory"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/patterns/cache"
)

func ExampleCacheWithConfig() {
	ns := memory.New(memory.Options{}) // or a Cloudflare namespace
	rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{TTL: time.Minute})
	if err != nil {
		panic(err)
	}
	defer rc.Close(context.Background())

	e := echo.New()
	e.Use(kvecho.CacheWithConfig(kvecho.CacheConfig{
		Cache:   rc,
		Skipper: func(c echo.Context) bool { return strings.HasPrefix(c.Path(), "/admin") },
	}))
	e.GET("/products/:id", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"id": c.Param("id")})
	})

	for range 2 {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", "/products/7", nil))
		fmt.Println(rec.Header().Get("Cache-Status"), strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// kvkit; fwd=miss {"id":"7"}
	// kvkit; hit; ttl=60 {"id":"7"}
}
