package nethttp_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/internal/cachetest"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/cache"
)

// cacheBenchItem renders to about 1 KiB of JSON.
type cacheBenchItem struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Tags  []string `json:"tags"`
	Notes string   `json:"notes"`
}

var cacheBenchHandlers = []struct {
	name string
	h    http.HandlerFunc
}{
	// The cheapest handler there is: it copies a static 1 KiB body. The
	// worst case for a cache's relative overhead.
	{"static", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(cachetest.Body1K)
	}},
	// A typical API handler: it renders 1 KiB of JSON.
	{"json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(cacheBenchItem{
			ID: 42, Name: "widget", Tags: []string{"a", "b", "c"}, Notes: strings.Repeat("n", 940),
		})
	}},
}

// BenchmarkCacheHit compares a cached hit through the middleware with the
// bare handler, for a 1 KiB body, each request answered into a fresh
// httptest.ResponseRecorder. Compare ns/op of bare and cached in one run:
//
//	go test -run '^$' -bench CacheHit -benchmem ./middleware/nethttp/
func BenchmarkCacheHit(b *testing.B) {
	for _, hc := range cacheBenchHandlers {
		rc, err := cache.NewResponseCache(memory.New(memory.Options{}), cache.ResponseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = rc.Close(context.Background()) })
		cached := nethttp.Cache(rc)(hc.h)
		req := httptest.NewRequest("GET", "/items/42?b=2&a=1", nil)
		cached.ServeHTTP(httptest.NewRecorder(), req) // warm: stored
		rec := httptest.NewRecorder()
		cached.ServeHTTP(rec, req)
		if !strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit") {
			b.Fatalf("not a hit: %q", rec.Header().Get("Cache-Status"))
		}
		for _, v := range []struct {
			name string
			h    http.Handler
		}{{"bare", hc.h}, {"cached", cached}} {
			b.Run(hc.name+"/"+v.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					v.h.ServeHTTP(httptest.NewRecorder(), req)
				}
			})
		}
	}
}

// cacheBenchWriter is a ResponseWriter that keeps nothing, so the
// benchmark below measures the cache's own added nanoseconds.
type cacheBenchWriter struct{ h http.Header }

func (w *cacheBenchWriter) Header() http.Header         { return w.h }
func (w *cacheBenchWriter) WriteHeader(int)             {}
func (w *cacheBenchWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkCacheHitDiscard is BenchmarkCacheHit/static with a writer that
// costs nothing: the difference of the two results is the cache's cost per
// hit.
func BenchmarkCacheHitDiscard(b *testing.B) {
	rc, err := cache.NewResponseCache(memory.New(memory.Options{}), cache.ResponseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rc.Close(context.Background()) })
	h := cacheBenchHandlers[0].h
	cached := nethttp.Cache(rc)(h)
	req := httptest.NewRequest("GET", "/items/42?b=2&a=1", nil)
	cached.ServeHTTP(httptest.NewRecorder(), req)
	for _, v := range []struct {
		name string
		h    http.Handler
	}{{"bare", h}, {"cached", cached}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &cacheBenchWriter{h: http.Header{}}
			for b.Loop() {
				clear(w.h)
				v.h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkCacheHitRatio runs the bare handler and the cached hit in
// alternating batches of 100 requests, so both see the same machine load,
// and reports cached throughput / bare throughput (target: >= 0.8) with
// each side's ns per request.
//
//	go test -run '^$' -bench CacheHitRatio ./middleware/nethttp/
func BenchmarkCacheHitRatio(b *testing.B) {
	for _, hc := range cacheBenchHandlers {
		b.Run(hc.name, func(b *testing.B) {
			rc, err := cache.NewResponseCache(memory.New(memory.Options{}), cache.ResponseOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer rc.Close(context.Background())
			cached := nethttp.Cache(rc)(hc.h)
			req := httptest.NewRequest("GET", "/items/42?b=2&a=1", nil)
			cached.ServeHTTP(httptest.NewRecorder(), req)
			const batch = 100
			var bare, hit time.Duration
			for b.Loop() {
				t0 := time.Now()
				for range batch {
					hc.h.ServeHTTP(httptest.NewRecorder(), req)
				}
				t1 := time.Now()
				for range batch {
					cached.ServeHTTP(httptest.NewRecorder(), req)
				}
				bare += t1.Sub(t0)
				hit += time.Since(t1)
			}
			n := float64(b.N * batch)
			b.ReportMetric(float64(bare)/float64(hit), "cached/bare-throughput")
			b.ReportMetric(float64(bare.Nanoseconds())/n, "bare-ns/req")
			b.ReportMetric(float64(hit.Nanoseconds())/n, "cached-ns/req")
		})
	}
}

// slowPutNS makes every KV write take 5 s (or until its context ends), like
// a KV API that answers slowly.
type slowPutNS struct{ *memory.Namespace }

func (s slowPutNS) Put(ctx context.Context, key string, v []byte, o kv.PutOptions) error {
	select {
	case <-time.After(5 * time.Second):
		return s.Namespace.Put(ctx, key, v, o)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// BenchmarkMissTTFBSlowPut measures the time to the first byte of a miss
// over real HTTP when every KV write takes 5 s: the write happens after the
// response, so it costs the client nothing (ttfb-ms is the mean).
//
//	go test -run '^$' -bench MissTTFBSlowPut -benchtime 20x ./middleware/nethttp/
func BenchmarkMissTTFBSlowPut(b *testing.B) {
	rc, err := cache.NewResponseCache(slowPutNS{memory.New(memory.Options{})}, cache.ResponseOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(nethttp.Cache(rc)(cacheBenchHandlers[0].h))
	defer srv.Close()
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		resp, err := srv.Client().Get(srv.URL + "/miss/" + strconv.Itoa(i))
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start) // Get returns once the header is read
		_ = resp.Body.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ttfb-ms")
	_ = rc.Close(context.Background()) // cancels the pending 5 s writes
}
