// Command nethttp is kvkit's demo web app on net/http: sessions, a
// flag-gated block, a response-cached slow page, a rate-limited API and
// page-view counters, over the embedded backend by default.
//
//	go run ./examples/nethttp                      # http://127.0.0.1:8080
//	go run ./examples/nethttp -addr 127.0.0.1:9000 -backend local
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/kvkit/kvkit/examples/internal/demo"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/counter"
)

const framework = "net/http"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves the app until ctx ends, then shuts down gracefully (flushing the
// counters). ready, when not nil, receives the base URL once listening.
func run(ctx context.Context, args []string, stdout io.Writer, ready chan<- string) error {
	return demo.Serve(ctx, args, stdout, ready, framework, routes)
}

// routes builds the app's handler: the patterns' middleware around a mux.
func routes(a *demo.App) http.Handler {
	mux := http.NewServeMux()

	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		d, err := a.Home(r, framework, nethttp.FlagsFrom(r))
		render(a, w, "home", d, err)
	})
	mux.HandleFunc("GET /flags", func(w http.ResponseWriter, r *http.Request) {
		d, err := a.FlagsPage(r, framework)
		render(a, w, "flags", d, err)
	})
	mux.HandleFunc("GET /cache", func(w http.ResponseWriter, r *http.Request) {
		d, err := a.CachePage(r, framework)
		render(a, w, "cache", d, err)
	})
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) {
		name, err := demo.SignInName(r.FormValue("name"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := a.SignIn(r, name); err != nil {
			render(a, w, "", nil, err)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /signout", func(w http.ResponseWriter, r *http.Request) {
		if err := a.SignOut(r); err != nil {
			render(a, w, "", nil, err)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})

	// The slow page sits behind the response cache.
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := a.Slow(r.Context(), framework)
		w.Header().Set("Cache-Control", demo.SlowCacheControl)
		render(a, w, "slow", d, err)
	})
	mux.Handle("GET /slow", nethttp.Cache(a.Responses)(slow))

	// The API sits behind the rate limit, keyed by client IP.
	limited := func(w http.ResponseWriter, r *http.Request, res counter.Result) {
		writeJSON(w, http.StatusTooManyRequests, demo.APILimited(res))
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, demo.APIHello(a.UserID(r)))
	})
	mux.Handle("GET /api/hello", nethttp.RateLimitWithConfig(nethttp.RateLimitConfig{
		Limiter: a.Limiter, KeyFunc: httpkey.ByIP(httpkey.IPConfig{}), DenyHandler: limited,
	})(api))

	// Sessions outermost; the flag evaluator reads the user from them. The
	// slow page is the same for everyone: it skips the per-user middleware,
	// so the cache may share it with signed-in visitors too (a page rendered
	// after reading a visitor's session never is).
	public := func(r *http.Request) bool { return r.URL.Path == "/slow" }
	var h http.Handler = mux
	h = nethttp.FlagsWithConfig(nethttp.FlagsConfig{Client: a.Flags, UserID: a.UserID, Skipper: public})(h)
	h = nethttp.SessionWithConfig(nethttp.SessionConfig{Manager: a.Sessions, Skipper: public})(h)
	return h
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func render(a *demo.App, w http.ResponseWriter, name string, data any, err error) {
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, context.Canceled) {
			code = 499
		}
		http.Error(w, fmt.Sprintf("%d %s", code, http.StatusText(code)), code)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := a.Render(w, name, data); err != nil {
		log.Printf("render %s: %v", name, err)
	}
}
