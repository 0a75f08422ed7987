package bench

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/go-chi/httprate"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/counter"
)

// ratelimitWriter is a reusable ResponseWriter, so the benchmark measures
// the middleware, not a recorder's allocations.
type ratelimitWriter struct {
	h    http.Header
	code int
}

func (w *ratelimitWriter) Header() http.Header         { return w.h }
func (w *ratelimitWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *ratelimitWriter) WriteHeader(code int)        { w.code = code }

// ratelimitResult is one variant's cost per request.
type ratelimitResult struct {
	ns, allocs float64
}

// ratelimitRun serves requests from 100 client IPs through h and records
// ns/op and allocs/op of the final run in out.
func ratelimitRun(b *testing.B, h http.Handler, out *ratelimitResult) {
	reqs := make([]*http.Request, 100)
	for i := range reqs {
		reqs[i], _ = http.NewRequest(http.MethodGet, "/", nil)
		reqs[i].RemoteAddr = "203.0.113." + strconv.Itoa(i) + ":4242"
	}
	w := &ratelimitWriter{h: http.Header{}}
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	i := 0
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, reqs[i%len(reqs)])
		i++
	}
	runtime.ReadMemStats(&ms1)
	if w.code != 0 && w.code != http.StatusOK {
		b.Fatalf("status %d: the limit must not be reached", w.code)
	}
	out.ns = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	out.allocs = float64(ms1.Mallocs-ms0.Mallocs) / float64(b.N)
}

// BenchmarkRateLimitOverhead compares what kvkit's rate-limit middleware
// (embedded backend, coalesced counters: no KV call per request) and
// go-chi/httprate's in-memory limiter add to a bare handler, measured in the
// same run, both keyed by client IP from RemoteAddr, both allowing every
// request. The log line gives the overheads and their ratio.
func BenchmarkRateLimitOverhead(b *testing.B) {
	const limit, window = 1 << 30, time.Minute
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

	lim, err := counter.NewLimiter(memory.New(memory.Options{}), limit, window, counter.LimiterOptions{
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer lim.Close(context.Background())
	kvkit := nethttp.RateLimit(lim, httpkey.ByIP(httpkey.IPConfig{}))(bare)

	chi := httprate.LimitBy(limit, window, func(r *http.Request) (string, error) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		return httprate.CanonicalizeIP(host), err
	})(bare)

	var rb, rk, rh ratelimitResult
	b.Run("bare", func(b *testing.B) { ratelimitRun(b, bare, &rb) })
	b.Run("kvkit", func(b *testing.B) { ratelimitRun(b, kvkit, &rk) })
	b.Run("httprate", func(b *testing.B) { ratelimitRun(b, chi, &rh) })

	ok, oh := rk.ns-rb.ns, rh.ns-rb.ns
	b.Logf("overhead per request: kvkit %.0f ns, %.1f allocs; httprate %.0f ns, %.1f allocs; ratio kvkit/httprate %.2f (target <= 1.0)",
		ok, rk.allocs-rb.allocs, oh, rh.allocs-rb.allocs, ok/oh)
}
