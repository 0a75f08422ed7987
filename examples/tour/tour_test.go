package tour_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kvkit/kvkit/kv/memory"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/cache"
	"github.com/kvkit/kvkit/patterns/counter"
	"github.com/kvkit/kvkit/patterns/flags"
	"github.com/kvkit/kvkit/patterns/session"
)

type User struct {
	Name string `json:"name"`
}

// Every pattern on net/http: sessions, a flag check in a handler, a cached
// slow page, a rate-limited API.
func Example_netHTTP() {
	ctx := context.Background()
	ns := memory.New(memory.Options{}) // or cloudflare.FromEnv(cloudflare.Options{})

	sessions := session.Must(session.New[User](ns, session.Options{}))
	fl := flags.Must(flags.New(ns, flags.Options{}))
	_ = fl.Set(ctx, "new-ui", flags.Flag{Enabled: true, RolloutPercent: 50})
	pages, _ := cache.NewResponseCache(ns, cache.ResponseOptions{TTL: 30 * time.Second})
	defer pages.Close(context.Background())
	limiter, _ := counter.NewLimiter(ns, 5, time.Minute, counter.LimiterOptions{})
	defer limiter.Close(ctx)
	userID := sessions.UserID(func(u User) string { return u.Name })

	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if nethttp.FlagsFrom(r).IsEnabled("new-ui") {
			fmt.Fprintln(w, "new UI")
			return
		}
		fmt.Fprintln(w, "classic UI")
	})
	mux.Handle("GET /report", nethttp.Cache(pages)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "an expensive report") // runs once per 30 s
	})))
	mux.Handle("GET /api", nethttp.RateLimit(limiter, httpkey.ByIP(httpkey.IPConfig{}))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })))

	app := nethttp.Session(sessions)(nethttp.Flags(fl, userID)(mux))

	srv := httptest.NewServer(app) // http.ListenAndServe(":8080", app) in a real program
	defer srv.Close()
	for _, path := range []string{"/", "/report", "/report", "/api"} {
		res, _ := http.Get(srv.URL + path)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		line := fmt.Sprint(path, " ", res.StatusCode, " ", strings.TrimSpace(string(body)), " | ",
			res.Header.Get("Cache-Status"), res.Header.Get("X-RateLimit-Remaining"))
		fmt.Println(strings.TrimSpace(line))
	}
	// Output:
	// / 200 classic UI |
	// /report 200 an expensive report | kvkit; fwd=miss
	// /report 200 an expensive report | kvkit; hit; ttl=30
	// /api 200 ok | 4
}

// The same app on Echo, with kvkit's native Echo middleware.
func Example_echo() {
	ctx := context.Background()
	ns := memory.New(memory.Options{})

	sessions := session.Must(session.New[User](ns, session.Options{}))
	fl := flags.Must(flags.New(ns, flags.Options{}))
	_ = fl.Set(ctx, "new-ui", flags.Flag{Enabled: true, RolloutPercent: 50})
	pages, _ := cache.NewResponseCache(ns, cache.ResponseOptions{TTL: 30 * time.Second})
	defer pages.Close(context.Background())
	limiter, _ := counter.NewLimiter(ns, 5, time.Minute, counter.LimiterOptions{})
	defer limiter.Close(ctx)
	userID := sessions.UserID(func(u User) string { return u.Name })

	e := echo.New()
	e.Use(kvecho.Session(sessions))
	e.Use(kvecho.Flags(fl, func(c echo.Context) string { return userID(c.Request()) }))
	e.GET("/", func(c echo.Context) error {
		if kvecho.FlagsFrom(c).IsEnabled("new-ui") {
			return c.String(http.StatusOK, "new UI\n")
		}
		return c.String(http.StatusOK, "classic UI\n")
	})
	e.GET("/report", func(c echo.Context) error {
		return c.String(http.StatusOK, "an expensive report\n")
	}, kvecho.Cache(pages))
	e.GET("/api", func(c echo.Context) error {
		return c.String(http.StatusOK, "ok\n")
	}, kvecho.RateLimit(limiter, httpkey.ByIP(httpkey.IPConfig{})))

	srv := httptest.NewServer(e) // e.Start(":8080") in a real program
	defer srv.Close()
	for _, path := range []string{"/", "/report", "/report", "/api"} {
		res, _ := http.Get(srv.URL + path)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		line := fmt.Sprint(path, " ", res.StatusCode, " ", strings.TrimSpace(string(body)), " | ",
			res.Header.Get("Cache-Status"), res.Header.Get("X-RateLimit-Remaining"))
		fmt.Println(strings.TrimSpace(line))
	}
	// Output:
	// / 200 classic UI |
	// /report 200 an expensive report | kvkit; fwd=miss
	// /report 200 an expensive report | kvkit; hit; ttl=30
	// /api 200 ok | 4
}
