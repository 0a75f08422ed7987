package kvecho_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kvkit/kvkit/kv/memory"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/patterns/counter"
)

func ExampleRateLimit() {
	ctx := context.Background()
	lim, err := counter.NewLimiter(memory.New(memory.Options{}), 1, time.Minute, counter.LimiterOptions{})
	if err != nil {
		panic(err)
	}
	defer lim.Close(ctx)

	e := echo.New()
	e.Use(kvecho.RateLimit(lim, httpkey.ByIP(httpkey.IPConfig{})))
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "hello") })

	for range 2 {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		fmt.Println(rec.Code, rec.Header().Get("Retry-After") != "")
	}
	// Output:
	// 200 false
	// 429 true
}

func ExampleRateLimitConfig() {
	ctx := context.Background()
	lim, err := counter.NewLimiter(memory.New(memory.Options{}), 100, time.Minute, counter.LimiterOptions{})
	if err != nil {
		panic(err)
	}
	defer lim.Close(ctx)

	mw, err := kvecho.RateLimitConfig{
		Skipper:    func(c echo.Context) bool { return c.Path() == "/health" },
		Limiter:    lim,
		KeyFunc:    httpkey.ByHeader("X-API-Key"),
		FailClosed: true, // 503 when KV is unreachable
	}.ToMiddleware()
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.Use(mw)
	e.GET("/", func(c echo.Context) error { return c.String(http.StatusOK, "hello") })

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil)) // no X-API-Key
	fmt.Println(rec.Code)
	// Output: 400
}
