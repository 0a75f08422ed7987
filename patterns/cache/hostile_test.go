package cache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cfkv "github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/cloudflare"
	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/cache"
)

// serveReq serves req through env's cache.
func (e *respEnv) serveReq(req *http.Request, h cache.Origin) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	_ = e.rc.Serve(rec, req, h)
	return rec
}

func isHit(rec *httptest.ResponseRecorder) bool {
	return strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit")
}

// echoURL answers with the scheme and host the handler believes it serves.
func echoURL(w http.ResponseWriter, r *http.Request) error {
	host, scheme := r.Host, "http"
	if v := r.Header.Get("X-Forwarded-Host"); v != "" {
		host = v
	}
	if v := r.Header.Get("X-Forwarded-Proto"); v != "" {
		scheme = v
	}
	_, err := io.WriteString(w, scheme+"://"+host+"/app.js")
	return err
}

func TestResponseCacheKeyHasSchemeAndHost(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	get := func(host string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/app", nil)
		req.Host = host
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		return env.serveReq(req, echoURL)
	}
	assert.Equal(t, "http://evil.example/app.js", get("evil.example").Body.String())
	assert.Equal(t, "http://example.com/app.js", get("example.com").Body.String(), "another host, another entry")
	for _, same := range []string{"example.com", "EXAMPLE.com", "example.com:80"} {
		rec := get(same)
		assert.True(t, isHit(rec), same)
		assert.Equal(t, "http://example.com/app.js", rec.Body.String(), same)
	}
	assert.False(t, isHit(get("example.com:8080")), "another port is another origin")
	// X-Forwarded-Proto is the scheme of the key: a client's own value only
	// reaches entries of that scheme.
	assert.Equal(t, "https://example.com/app.js", get("example.com", "X-Forwarded-Proto", "https").Body.String())
	assert.Equal(t, "http://example.com/app.js", get("example.com").Body.String())
	rec := get("example.com", "X-Forwarded-Proto", "HTTPS")
	assert.True(t, isHit(rec))
	assert.Equal(t, "https://example.com/app.js", rec.Body.String())
}

func TestResponseCacheUntrustedForwardingHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		hdr    []string
		stored bool
	}{
		{"X-Forwarded-Host of another host", []string{"X-Forwarded-Host", "evil.example"}, false},
		{"X-Forwarded-Host listing another host", []string{"X-Forwarded-Host", "example.com, evil.example"}, false},
		{"X-Forwarded-Host of the same host", []string{"X-Forwarded-Host", "example.com:80"}, true},
		{"X-Forwarded-Host of the same host in capitals", []string{"X-Forwarded-Host", "EXAMPLE.COM"}, true},
		{"X-Host", []string{"X-Host", "evil.example"}, false},
		{"X-Original-Host", []string{"X-Original-Host", "evil.example"}, false},
		{"X-Forwarded-Port of another port", []string{"X-Forwarded-Port", "8443"}, false},
		{"X-Forwarded-Port of the scheme's", []string{"X-Forwarded-Port", "80"}, true},
		{"X-Forwarded-Scheme that disagrees", []string{"X-Forwarded-Scheme", "https"}, false},
		{"X-Forwarded-Proto that is no scheme", []string{"X-Forwarded-Proto", "javascript"}, false},
		{"X-Forwarded-Prefix", []string{"X-Forwarded-Prefix", "/evil"}, false},
		{"X-Original-URL", []string{"X-Original-URL", "/admin"}, false},
		{"X-Rewrite-URL", []string{"X-Rewrite-URL", "/admin"}, false},
		{"Forwarded", []string{"Forwarded", "host=evil.example"}, false},
		{"X-Forwarded-For is not a URL", []string{"X-Forwarded-For", "1.2.3.4"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newRespEnv(t, cache.ResponseOptions{})
			req := httptest.NewRequest("GET", "/app", nil)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			rec := env.serveReq(req, echoURL)
			if tc.stored {
				assert.Equal(t, "kvkit; fwd=miss", rec.Header().Get("Cache-Status"))
			} else {
				assert.Equal(t, "kvkit; fwd=miss; detail=forwarded", rec.Header().Get("Cache-Status"))
			}
			clean := env.serve("/app", echoURL)
			assert.Equal(t, tc.stored, isHit(clean))
			if !tc.stored {
				assert.Equal(t, "http://example.com/app.js", clean.Body.String(), "not poisoned")
			}
			// A stored page is still served to a request with the header.
			assert.True(t, isHit(env.serveReq(req.Clone(context.Background()), echoURL)))
		})
	}
}

func TestResponseCacheTrustedForwardedHost(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{TrustedHeaders: []string{"x-forwarded-host", "X-Forwarded-Prefix"}})
	get := func(fh string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/app", nil)
		req.Host = "backend.internal:8080" // the proxy rewrites Host
		req.Header.Set("X-Forwarded-Host", fh)
		req.Header.Set("X-Forwarded-Prefix", "/shop")
		return env.serveReq(req, echoURL)
	}
	assert.Equal(t, "kvkit; fwd=miss", get("a.example").Header().Get("Cache-Status"), "trusted: stored")
	assert.Equal(t, "http://b.example/app.js", get("b.example").Body.String(), "keyed by the forwarded host")
	rec := get("a.example")
	assert.True(t, isHit(rec))
	assert.Equal(t, "http://a.example/app.js", rec.Body.String())
	require.NoError(t, env.rc.PurgeURL(context.Background(), "https://a.example/app"))
	assert.False(t, isHit(get("a.example")), "purged by the public URL")
}

func TestResponseCacheCookies(t *testing.T) {
	t.Parallel()
	theme := func(w http.ResponseWriter, r *http.Request) error {
		v := "light"
		if c, err := r.Cookie("theme"); err == nil {
			v = c.Value
		}
		_, err := io.WriteString(w, "theme="+v)
		return err
	}
	env := newRespEnv(t, cache.ResponseOptions{IgnoreCookies: []string{"_ga"}})
	rec := env.serve("/t", theme, "Cookie", "theme=dark")
	assert.Equal(t, "kvkit; fwd=miss; detail=cookie", rec.Header().Get("Cache-Status"))
	assert.Equal(t, "theme=light", env.serve("/t", theme).Body.String())
	assert.True(t, isHit(env.serve("/t", theme)))
	rec = env.serve("/t", theme, "Cookie", "theme=blue")
	assert.Equal(t, "theme=blue", rec.Body.String(), "an entry stored without cookies never answers a request with one")
	rec = env.serve("/t", theme, "Cookie", "_ga=GA1.2.3")
	assert.True(t, isHit(rec), "ignored cookies do not count")
	assert.Equal(t, "theme=light", rec.Body.String())
	assert.False(t, isHit(env.serve("/t", theme, "Cookie", "_ga=1; theme=dark")))

	// A response that says public (or s-maxage) is shared with requests
	// that carry cookies, both ways.
	pub := respText("shared", "Cache-Control", "public, max-age=60")
	assert.Equal(t, "kvkit; fwd=miss", env.serve("/p", pub, "Cookie", "theme=dark").Header().Get("Cache-Status"))
	assert.True(t, isHit(env.serve("/p", pub)))
	assert.True(t, isHit(env.serve("/p", pub, "Cookie", "theme=blue")))
	smax := respText("shared", "Cache-Control", "s-maxage=60")
	env.serve("/s", smax)
	assert.True(t, isHit(env.serve("/s", smax, "Cookie", "id=1")))
}

func TestResponseCacheMaxMissesPerPath(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{MaxMissesPerPath: 3})
	search := func(w http.ResponseWriter, r *http.Request) error {
		_, err := io.WriteString(w, "q="+r.URL.Query().Get("q"))
		return err
	}
	for i := range 10 {
		rec := env.serve("/search?q="+strconv.Itoa(i), search)
		assert.Equal(t, "q="+strconv.Itoa(i), rec.Body.String())
		want := "kvkit; fwd=miss"
		if i >= 3 {
			want += "; detail=path-limit"
		}
		assert.Equal(t, want, rec.Header().Get("Cache-Status"), i)
	}
	env.waitStored(t, 3)
	assert.Equal(t, kvtest.Counts{Get: 3, Put: 3}, env.ns.Counts(), "3 reads and 3 writes, not 10 of each")
	assert.True(t, isHit(env.serve("/search?q=1", search)), "what was stored still hits")
	assert.Equal(t, "kvkit; fwd=miss", env.serve("/other?q=1", search).Header().Get("Cache-Status"), "other paths have their own count")
	env.clock.Advance(time.Minute)
	assert.Equal(t, "kvkit; fwd=miss", env.serve("/search?q=99", search).Header().Get("Cache-Status"), "a new minute")

	// Vary variants count too.
	lang := func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Vary", "Accept-Language")
		_, err := io.WriteString(w, r.Header.Get("Accept-Language"))
		return err
	}
	for i := range 6 {
		env.serve("/lang", lang, "Accept-Language", "x-"+strconv.Itoa(i))
	}
	assert.Equal(t, "kvkit; fwd=miss; detail=path-limit", env.serve("/lang", lang, "Accept-Language", "x-9").Header().Get("Cache-Status"))

	off := newRespEnv(t, cache.ResponseOptions{MaxMissesPerPath: -1})
	for i := range 40 {
		off.serve("/search?q="+strconv.Itoa(i), search)
	}
	off.waitStored(t, 40)
	assert.Equal(t, kvtest.Counts{Get: 40, Put: 40}, off.ns.Counts(), "no bound")
}

// slowPuts blocks every Put until its context ends or release is closed.
type slowPuts struct {
	kv.Namespace
	release chan struct{}
	started atomic.Int64
}

func (s *slowPuts) Put(ctx context.Context, key string, v []byte, o kv.PutOptions) error {
	s.started.Add(1)
	select {
	case <-s.release:
		return s.Namespace.Put(ctx, key, v, o)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestResponseCachePendingStores(t *testing.T) {
	t.Parallel()
	clock := kvtest.NewClock()
	base := kvtest.NewCountingBulk(memoryNS(clock))
	ns := &slowPuts{Namespace: base, release: make(chan struct{})}
	logs := &lockedWriter{w: &strings.Builder{}}
	rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{MaxPendingStores: 2, Clock: clock.Now, Logger: newTestLogger(logs)})
	require.NoError(t, err)
	for i := range 5 {
		rec := httptest.NewRecorder()
		require.NoError(t, rc.Serve(rec, httptest.NewRequest("GET", "/p"+strconv.Itoa(i), nil), respText("x")))
		assert.Equal(t, "kvkit; fwd=miss", rec.Header().Get("Cache-Status"))
	}
	require.Eventually(t, func() bool { return ns.started.Load() == 2 }, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 3, rc.Stats().Dropped, "past MaxPendingStores, kept in memory only")
	rec := httptest.NewRecorder()
	require.NoError(t, rc.Serve(rec, httptest.NewRequest("GET", "/p4", nil), respText("y")))
	assert.True(t, isHit(rec), "a dropped write still serves from memory")
	// Close cancels the pending writes and waits for them.
	require.NoError(t, rc.Close(context.Background()))
	assert.Zero(t, rc.Stats().Stored)
	assert.Zero(t, base.Counts().Put)
	rec = httptest.NewRecorder()
	require.NoError(t, rc.Serve(rec, httptest.NewRequest("GET", "/after-close", nil), respText("z")))
	assert.Equal(t, "z", rec.Body.String(), "Serve works after Close")
	assert.EqualValues(t, 4, rc.Stats().Dropped)
}

func TestResponseCachePurgeURLBeatsAPendingWrite(t *testing.T) {
	t.Parallel()
	clock := kvtest.NewClock()
	mem := memoryNS(clock)
	ns := &slowPuts{Namespace: mem, release: make(chan struct{})}
	rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{Clock: clock.Now})
	require.NoError(t, err)
	defer rc.Close(context.Background())
	rec := httptest.NewRecorder()
	require.NoError(t, rc.Serve(rec, httptest.NewRequest("GET", "/x", nil), respText("old")))
	require.Eventually(t, func() bool { return ns.started.Load() == 1 }, 5*time.Second, time.Millisecond)
	purged := make(chan error)
	go func() { purged <- rc.PurgeURL(context.Background(), "http://example.com/x") }()
	select {
	case err := <-purged:
		t.Fatalf("PurgeURL returned (%v) while a write of the URL was under way", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(ns.release)
	require.NoError(t, <-purged)
	_, found, err := mem.Get(context.Background(), "http:http://example.com/x", kv.GetOptions{})
	require.NoError(t, err)
	assert.False(t, found, "the purge came after the write")

	// A write still waiting to start when the purge runs never happens.
	rc2, err := cache.NewResponseCache(mem, cache.ResponseOptions{Clock: clock.Now})
	require.NoError(t, err)
	defer rc2.Close(context.Background())
	gate := make(chan struct{})
	var once sync.Once
	h := func(w http.ResponseWriter, r *http.Request) error {
		once.Do(func() {
			go func() { _ = rc2.PurgeURL(context.Background(), "http://example.com/y"); close(gate) }()
			<-gate // the purge ran while the handler did
		})
		_, err := io.WriteString(w, "rendered before the purge")
		return err
	}
	rec = httptest.NewRecorder()
	require.NoError(t, rc2.Serve(rec, httptest.NewRequest("GET", "/y", nil), h))
	rec = httptest.NewRecorder()
	require.NoError(t, rc2.Serve(rec, httptest.NewRequest("GET", "/y", nil), respText("after")))
	assert.Equal(t, "after", rec.Body.String(), "what was rendered before the purge is not stored")
}

func TestResponseCacheMalformedTagRecordFailsSafe(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	tagged := respText("v1", "Cache-Tag", "foo")
	env.serve("/t", tagged)
	env.waitStored(t, 1)
	require.NoError(t, env.ns.Put(context.Background(), "http:!tag/foo", []byte("not a number"), kv.PutOptions{}))
	other, err := cache.NewResponseCache(env.ns, cache.ResponseOptions{Clock: env.clock.Now, Logger: newTestLogger(env.logs)})
	require.NoError(t, err)
	defer other.Close(context.Background())
	rec := httptest.NewRecorder()
	require.NoError(t, other.Serve(rec, httptest.NewRequest("GET", "/t", nil), respText("v2", "Cache-Tag", "foo")))
	assert.Equal(t, "v2", rec.Body.String(), "a tag record that is not a generation reads as purged")
	assert.Contains(t, env.logs.String(), "malformed tag record")
}

func TestResponseCacheOptionsValidated(t *testing.T) {
	t.Parallel()
	ns := memoryNS(kvtest.NewClock())
	for _, o := range []cache.ResponseOptions{{KVTimeout: -1}, {MaxPendingStores: -1}} {
		_, err := cache.NewResponseCache(ns, o)
		assert.ErrorIs(t, err, kv.ErrInvalidOptions, "%+v", o)
	}
	rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{})
	require.NoError(t, err)
	defer rc.Close(context.Background())
	assert.ErrorIs(t, rc.PurgeURL(context.Background(), "/no-host"), kv.ErrInvalidKey)
}

// blockingSleep is a cloudflare.Options.Sleep that waits only for its
// context: a backoff that would last as long as the caller lets it.
type blockingSleep struct {
	calls       atomic.Int64
	hadDeadline atomic.Bool
}

func (b *blockingSleep) Sleep(ctx context.Context, _ time.Duration) error {
	b.calls.Add(1)
	if _, ok := ctx.Deadline(); ok {
		b.hadDeadline.Store(true)
	}
	<-ctx.Done()
	return ctx.Err()
}

// A KV outage through the REST API (429s, 500s, dropped connections) makes
// the backend retry with backoff; the cache's reads give up after
// KVTimeout and the request is served by the handler, so an outage does
// not add the retries' seconds to every request.
func TestResponseCacheKVFaultsFailOpenFast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault kvserver.Fault
	}{
		{"429 with Retry-After", kvserver.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second}},
		{"500", kvserver.Fault{Status: http.StatusInternalServerError}},
		{"dropped connection", kvserver.Fault{Drop: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := kvtest.NewServer(t, kvtest.ServerOptions{})
			sleep := &blockingSleep{}
			client := cfkv.NewKVService(option.WithBaseURL(srv.BaseURL), option.WithAPIToken(srv.Token), option.WithHTTPClient(srv.Client()))
			ns, err := cloudflare.New(client, srv.AccountID, srv.NamespaceID, cloudflare.Options{Sleep: sleep.Sleep})
			require.NoError(t, err)
			// PurgeBound -1: the purge log's own read is not what this counts.
			rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{KVTimeout: 20 * time.Millisecond, PurgeBound: -1, Logger: newTestLogger(io.Discard)})
			require.NoError(t, err)
			defer rc.Close(context.Background())
			for range 3 {
				srv.Inject(kvserver.RouteGetValue, tc.fault, tc.fault, tc.fault, tc.fault)
			}
			srv.ResetHits()
			for i := range 3 {
				rec := httptest.NewRecorder()
				require.NoError(t, rc.Serve(rec, httptest.NewRequest("GET", fmt.Sprintf("/down/%d", i), nil), respText("from the handler")))
				assert.Equal(t, "from the handler", rec.Body.String())
			}
			// One attempt per read (net/http may resend a GET once on a
			// dropped connection); no retry fits in the deadline. Counted
			// over the three reads, because a resend that the deadline cut
			// short can still reach the server during the next read.
			assert.LessOrEqual(t, srv.Hits(kvserver.RouteGetValue), 2*3)
			// The sleep blocks until its context ends: without the cache's
			// deadline the reads above would never have returned.
			assert.True(t, sleep.calls.Load() == 0 || sleep.hadDeadline.Load())
			assert.GreaterOrEqual(t, rc.Stats().KVErrors, int64(3), "each read failed open")
		})
	}
}

func memoryNS(clock *kvtest.Clock) *memory.Namespace {
	return memory.New(memory.Options{Clock: clock.Now})
}

// The local tier's bound counts everything an entry holds: with 4 KB of
// headers per response, the heap grows by about LocalMaxBytes, not by
// entries × (headers + body) (20,000 × 4 KB is 20 times the bound here).
func TestResponseCacheLocalTierBoundsHeap(t *testing.T) {
	t.Parallel()
	const entries, bound = 20_000, 4 << 20
	if testing.Short() {
		t.Skip("fills the local tier with 80 MB of responses")
	}
	growth := localTierHeapGrowth(t, entries, bound)
	t.Logf("%d entries with 4 KB of headers, LocalMaxBytes %d MiB: heap grew %.1f MiB", entries, bound>>20, float64(growth)/(1<<20))
	assert.Less(t, growth, int64(bound)*3/2, "the heap stays within the bound (plus slack for the rest of the cache)")
}

// BenchmarkLocalTierHeap reports the heap growth of 100,000 entries with
// 4 KB of headers under the default LocalMaxBytes of 64 MiB (heap-MiB):
//
//	go test -run '^$' -bench LocalTierHeap -benchtime 1x ./patterns/cache/
func BenchmarkLocalTierHeap(b *testing.B) {
	for range b.N {
		g := localTierHeapGrowth(b, 100_000, 64<<20)
		b.ReportMetric(float64(g)/(1<<20), "heap-MiB")
	}
}

// discardNS is a namespace that has nothing and keeps nothing.
type discardNS struct{ kv.Namespace }

func (discardNS) Get(context.Context, string, kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	return kv.Entry[[]byte]{}, false, nil
}
func (discardNS) Put(context.Context, string, []byte, kv.PutOptions) error { return nil }

func localTierHeapGrowth(t require.TestingT, entries int, bound uint64) int64 {
	rc, err := cache.NewResponseCache(discardNS{}, cache.ResponseOptions{LocalMaxBytes: bound, MaxMissesPerPath: -1})
	require.NoError(t, err)
	defer rc.Close(context.Background())
	var hdr [32]string
	for i := range hdr {
		hdr[i] = strings.Repeat(strconv.Itoa(i%10), 120)
	}
	h := func(w http.ResponseWriter, r *http.Request) error {
		for i, v := range hdr {
			w.Header()["X-Header-"+strconv.Itoa(i)] = []string{v + r.URL.Path}
		}
		_, err := io.WriteString(w, "body")
		return err
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := &nopWriter{h: http.Header{}}
	for i := range entries {
		clear(w.h)
		require.NoError(t, rc.Serve(w, httptest.NewRequest("GET", "/page/"+strconv.Itoa(i), nil), h))
	}
	require.Eventually(t, func() bool { return rc.Stats().Stored+rc.Stats().Dropped == int64(entries) }, time.Minute, time.Millisecond)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(rc)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// nopWriter is a ResponseWriter that keeps only its header.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) WriteHeader(int)             {}
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
