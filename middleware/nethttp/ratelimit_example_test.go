package nethttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/counter"
)

func ExampleRateLimit() {
	ctx := context.Background()
	ns := memory.New(memory.Options{}) // or the Cloudflare backend
	lim, err := counter.NewLimiter(ns, 100, time.Minute, counter.LimiterOptions{})
	if err != nil {
		panic(err)
	}
	defer lim.Close(ctx) // writes the pending counts

	// Behind Cloudflare: CF-Connecting-IP is believed only from Cloudflare's
	// published ranges (httpkey.CloudflareRanges).
	key := httpkey.ByIP(httpkey.IPConfig{Proxies: httpkey.Proxies{Cloudflare: true}})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	handler := nethttp.RateLimitWithConfig(nethttp.RateLimitConfig{
		Limiter: lim, KeyFunc: key,
		Headers: counter.Headers{IETF: true}, // also RateLimit and RateLimit-Policy
	})(mux)

	w := httptest.NewRecorder()
	handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println(w.Code, w.Header().Get("X-RateLimit-Remaining"), w.Header().Get("RateLimit-Policy"))
	// Output: 200 99 "default";q=100;w=60
}
