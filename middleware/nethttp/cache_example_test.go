package nethttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/cache"
)

func ExampleCache() {
	ns := memory.New(memory.Options{}) // or a Cloudflare namespace
	rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{
		TTL:                  time.Minute, // when the response has no max-age / s-maxage
		StaleWhileRevalidate: 30 * time.Second,
		XCache:               true,
	})
	if err != nil {
		panic(err)
	}
	defer rc.Close(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /products", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Cache-Tag", "products")
		_, _ = io.WriteString(w, "product list")
	})
	srv := nethttp.Cache(rc)(mux) // http.ListenAndServe(":8080", srv)

	for range 2 {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/products", nil))
		fmt.Println(rec.Header().Get("X-Cache"), rec.Header().Get("Cache-Status"))
	}
	// Output:
	// MISS kvkit; fwd=miss
	// HIT kvkit; hit; ttl=300
}
