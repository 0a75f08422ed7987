package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	echocache "github.com/SporkHubr/echo-http-cache"
	"github.com/SporkHubr/echo-http-cache/adapter/memory"
	"github.com/labstack/echo/v4"

	"github.com/kvkit/kvkit/kv/kvtest"
	kvmemory "github.com/kvkit/kvkit/kv/memory"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/patterns/cache"
)

var cacheBody1K = bytes.Repeat([]byte("0123456789abcdef"), 64)

func cacheHandler(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/octet-stream", cacheBody1K)
}

// cacheEchoServers returns the same handler bare, behind kvkit's Echo
// cache middleware (over the embedded KV backend), and behind
// github.com/SporkHubr/echo-http-cache with its memory adapter.
func cacheEchoServers(tb testing.TB) map[string]*echo.Echo {
	rc, err := cache.NewResponseCache(kvmemory.New(kvmemory.Options{}), cache.ResponseOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = rc.Close(context.Background()) })
	adapter, err := memory.NewAdapter(memory.AdapterWithAlgorithm(memory.LRU), memory.AdapterWithCapacity(10_000))
	if err != nil {
		tb.Fatal(err)
	}
	client, err := echocache.NewClient(echocache.ClientWithAdapter(adapter), echocache.ClientWithTTL(5*time.Minute))
	if err != nil {
		tb.Fatal(err)
	}
	bare, ours, peer := echo.New(), echo.New(), echo.New()
	bare.GET("/items/:id", cacheHandler)
	ours.GET("/items/:id", cacheHandler, kvecho.Cache(rc))
	peer.GET("/items/:id", cacheHandler, client.Middleware())
	return map[string]*echo.Echo{"bare": bare, "kvkit": ours, "echo-http-cache": peer}
}

func cacheGet(e *echo.Echo) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/items/42?b=2&a=1", nil))
	return rec
}

// TestCacheEchoPeersServeTheSameBody checks that the benchmark compares
// like with like: both caches answer hits with the handler's body.
func TestCacheEchoPeersServeTheSameBody(t *testing.T) {
	for name, e := range cacheEchoServers(t) {
		cacheGet(e)
		rec := cacheGet(e)
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), cacheBody1K) {
			t.Fatalf("%s: %d %q", name, rec.Code, rec.Body.String())
		}
		if name == "kvkit" && !strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit") {
			t.Fatalf("kvkit: not a hit: %q", rec.Header().Get("Cache-Status"))
		}
	}
}

// BenchmarkCacheEchoHit: a cached hit of a 1 KiB body through kvkit's Echo
// middleware and through echo-http-cache (memory adapter), with the bare
// handler for reference. Compare ns/op within one run:
//
//	cd bench && go test -run '^$' -bench CacheEchoHit -benchmem
func BenchmarkCacheEchoHit(b *testing.B) {
	servers := cacheEchoServers(b)
	for _, name := range []string{"bare", "kvkit", "echo-http-cache"} {
		e := servers[name]
		cacheGet(e) // warm
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest(http.MethodGet, "/items/42?b=2&a=1", nil)
			for b.Loop() {
				e.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// BenchmarkCacheKVCalls reports KV calls and handler calls for 1,000
// requests over 20 URLs from 50 concurrent clients, through kvkit's Echo
// middleware on a cold cache (the test in middleware/internal/cachetest
// asserts the same for both frameworks).
func BenchmarkCacheKVCalls(b *testing.B) {
	for b.Loop() {
		ns := kvtest.NewCountingBulk(kvmemory.New(kvmemory.Options{}))
		rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var calls atomic.Int64
		e := echo.New()
		e.GET("/page/:n", func(c echo.Context) error {
			calls.Add(1)
			return c.Blob(http.StatusOK, "application/octet-stream", cacheBody1K)
		}, kvecho.Cache(rc))
		done := make(chan struct{})
		for client := range 50 {
			go func() {
				defer func() { done <- struct{}{} }()
				for i := range 20 {
					rec := httptest.NewRecorder()
					e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/page/"+itoa((client+i)%20), nil))
				}
			}()
		}
		for range 50 {
			<-done
		}
		_ = rc.Close(context.Background())
		c := ns.Counts()
		b.ReportMetric(float64(c.Reads()), "kv-reads/1000req")
		b.ReportMetric(float64(c.Writes()), "kv-writes/1000req")
		b.ReportMetric(float64(calls.Load()), "handler-calls/1000req")
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}

// BenchmarkCacheEchoRatio runs the three servers of BenchmarkCacheEchoHit
// in alternating batches of 100 hits, so all see the same machine load, and
// reports kvkit's ns per hit over echo-http-cache's (target: <= 0.1) and
// over the bare handler's.
//
//	cd bench && go test -run '^$' -bench CacheEchoRatio
func BenchmarkCacheEchoRatio(b *testing.B) {
	servers := cacheEchoServers(b)
	names := []string{"bare", "kvkit", "echo-http-cache"}
	req := httptest.NewRequest(http.MethodGet, "/items/42?b=2&a=1", nil)
	for _, name := range names {
		cacheGet(servers[name]) // warm
	}
	const batch = 100
	spent := make([]time.Duration, len(names))
	for b.Loop() {
		for i, name := range names {
			e := servers[name]
			t0 := time.Now()
			for range batch {
				e.ServeHTTP(httptest.NewRecorder(), req)
			}
			spent[i] += time.Since(t0)
		}
	}
	n := float64(b.N * batch)
	b.ReportMetric(float64(spent[0].Nanoseconds())/n, "bare-ns/hit")
	b.ReportMetric(float64(spent[1].Nanoseconds())/n, "kvkit-ns/hit")
	b.ReportMetric(float64(spent[2].Nanoseconds())/n, "peer-ns/hit")
	b.ReportMetric(float64(spent[1])/float64(spent[2]), "kvkit/peer")
	b.ReportMetric(float64(spent[1])/float64(spent[0]), "kvkit/bare")
}
