// Package cachetest is the table of response-cache cases that the net/http
// and Echo middlewares both pass: each middleware test builds its server
// with Build and calls Run.
package cachetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/cache"
)

// Build wraps origin with a framework's response-cache middleware over rc
// and returns the server to send requests to. Origin is registered for GET,
// HEAD and POST on every path.
type Build func(t *testing.T, rc *cache.ResponseCache, origin http.Handler) http.Handler

// Env is one case's world: a manual clock, a counting memory namespace, the
// cache, the server, and the origin's call count.
type Env struct {
	T      *testing.T
	Clock  *kvtest.Clock
	NS     *kvtest.CountingBulk
	Cache  *cache.ResponseCache
	Server http.Handler
	Calls  *atomic.Int64
	Logs   *SafeBuffer
}

// SafeBuffer is a bytes.Buffer safe for concurrent writes (a log sink).
type SafeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SafeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SafeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// NewEnv builds an Env whose origin is h (counted).
func NewEnv(t *testing.T, build Build, o cache.ResponseOptions, h http.HandlerFunc) *Env {
	t.Helper()
	return NewEnvWrapped(t, build, o, h, nil)
}

// NewEnvWrapped is NewEnv with the cache's namespace wrapped by wrap (for
// fault injection); Env.NS still counts every call that gets through.
func NewEnvWrapped(t *testing.T, build Build, o cache.ResponseOptions, h http.HandlerFunc, wrap func(kv.Namespace) kv.Namespace) *Env {
	t.Helper()
	clock := kvtest.NewClock()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{Clock: clock.Now}))
	logs := &SafeBuffer{}
	o.Clock = clock.Now
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	if o.PurgeBound == 0 {
		o.PurgeBound = -1 // the purge log has its own cases: off here, so KV call counts are the feature's own
	}
	var cns kv.Namespace = ns
	if wrap != nil {
		cns = wrap(ns)
	}
	rc, err := cache.NewResponseCache(cns, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close(context.Background()) })
	calls := &atomic.Int64{}
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h(w, r)
	})
	return &Env{T: t, Clock: clock, NS: ns, Cache: rc, Server: build(t, rc, origin), Calls: calls, Logs: logs}
}

// WaitStored waits until n responses have been written to KV: the cache
// writes them in the background, after the response has been sent.
func (e *Env) WaitStored(n int64) {
	e.T.Helper()
	require.Eventually(e.T, func() bool { return e.Cache.Stats().Stored >= n }, 5*time.Second, time.Millisecond,
		"waiting for %d KV writes, have %d", n, e.Cache.Stats().Stored)
}

// Do sends one request and returns the recorded response.
func (e *Env) Do(method, target string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.Server.ServeHTTP(rec, req)
	return rec
}

// Faulty is a namespace whose Gets and Puts can be made to block until
// their context ends (a KV call stuck in retries) or until Release, or to
// fail.
type Faulty struct {
	kv.Namespace
	BlockGets bool          // Get waits for its context to end
	PutGate   chan struct{} // when not nil, Put waits for it to close (or its context to end)
	PutErr    error         // when not nil, Put fails with it
	GetCtx    chan context.Context
	puts      atomic.Int64
}

// Get implements kv.Namespace.
func (f *Faulty) Get(ctx context.Context, key string, o kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	if f.GetCtx != nil {
		select {
		case f.GetCtx <- ctx:
		default:
		}
	}
	if f.BlockGets {
		<-ctx.Done()
		return kv.Entry[[]byte]{}, false, &kv.Error{Op: "get", Key: key, Err: ctx.Err()}
	}
	return f.Namespace.Get(ctx, key, o)
}

// Put implements kv.Namespace.
func (f *Faulty) Put(ctx context.Context, key string, v []byte, o kv.PutOptions) error {
	defer f.puts.Add(1)
	if f.PutGate != nil {
		select {
		case <-f.PutGate:
		case <-ctx.Done():
			return &kv.Error{Op: "put", Key: key, Err: ctx.Err()}
		}
	}
	if f.PutErr != nil {
		return &kv.Error{Op: "put", Key: key, Err: f.PutErr}
	}
	return f.Namespace.Put(ctx, key, v, o)
}

// Puts returns how many Puts have returned.
func (f *Faulty) Puts() int64 { return f.puts.Load() }

// within runs fn and fails t unless it returns within d (real time: a
// watchdog for code that would otherwise block for good).
func within(t *testing.T, d time.Duration, what string, fn func()) bool {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		t.Errorf("%s: still blocked after %v", what, d)
		return false
	}
}

// Body1K is a 1 KiB body.
var Body1K = bytes.Repeat([]byte("0123456789abcdef"), 64)

// text answers with body and the given header pairs.
func text(body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Add(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, body)
	}
}

// counter answers "n=<call number> path=<path>".
func counter() http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "n=%d path=%s", n.Add(1), r.URL.Path)
	}
}

// notStoredCase is a response (or request) that must be served and not
// stored: two requests call the origin twice, with the given detail.
type notStoredCase struct {
	name   string
	h      http.HandlerFunc
	hdr    []string // request headers
	detail string
}

// Run runs every case against build.
func Run(t *testing.T, build Build) {
	runReval(t, build) // cachetest_reval.go
	t.Run("validators and conditional requests", func(t *testing.T) {
		t.Parallel()
		lm := "Wed, 02 Dec 2026 10:00:00 GMT"
		env := NewEnv(t, build, cache.ResponseOptions{}, text("hello", "Cache-Control", "max-age=60", "Vary", "Accept-Language",
			"Content-Location", "/a", "Expires", "Wed, 02 Dec 2026 11:00:00 GMT"))
		rec := env.Do("GET", "/a")
		etag := rec.Header().Get("Etag")
		require.Regexp(t, `^"[0-9a-f]{32}"$`, etag, "a strong ETag made from the body on the stored 200")
		weak := "W/" + etag
		for _, c := range []struct {
			name string
			hdr  []string
			want int
		}{
			{"strong match", []string{"If-None-Match", etag}, 304},
			{"weak comparison", []string{"If-None-Match", weak}, 304},
			{"list", []string{"If-None-Match", `"x", ` + etag}, 304},
			{"two fields", []string{"If-None-Match", `"x"`, "If-None-Match", etag}, 304},
			{"star", []string{"If-None-Match", "*"}, 304},
			{"no match", []string{"If-None-Match", `"other"`}, 200},
			{"malformed list", []string{"If-None-Match", `,,"un"terminated, W/, "`}, 200},
			{"INM wins over IMS", []string{"If-None-Match", `"other"`, "If-Modified-Since", "Wed, 02 Dec 2099 10:00:00 GMT"}, 200},
			{"IMS newer", []string{"If-Modified-Since", "Wed, 02 Dec 2099 10:00:00 GMT"}, 304},
			{"IMS older", []string{"If-Modified-Since", "Wed, 02 Dec 1999 10:00:00 GMT"}, 200},
			{"IMS malformed", []string{"If-Modified-Since", "yesterday"}, 200},
		} {
			rec := env.Do("GET", "/a", c.hdr...)
			assert.Equal(t, c.want, rec.Code, c.name)
			assert.Contains(t, rec.Header().Get("Cache-Status"), "kvkit; hit", c.name)
			if c.want == 304 {
				assert.Empty(t, rec.Body.String(), c.name)
				assert.Equal(t, etag, rec.Header().Get("Etag"), c.name)
				assert.Equal(t, "max-age=60", rec.Header().Get("Cache-Control"), c.name)
				assert.Equal(t, "Accept-Language", rec.Header().Get("Vary"), c.name)
				assert.Equal(t, "/a", rec.Header().Get("Content-Location"), c.name)
				assert.NotEmpty(t, rec.Header().Get("Expires"), c.name)
				assert.NotEmpty(t, rec.Header().Get("Date"), c.name)
				assert.Empty(t, rec.Header().Get("Content-Type"), c.name)
			} else {
				assert.Equal(t, "hello", rec.Body.String(), c.name)
			}
		}
		rec = env.Do("HEAD", "/a", "If-None-Match", etag)
		assert.Equal(t, 304, rec.Code)
		assert.EqualValues(t, 1, env.Calls.Load(), "every conditional answered from the cache")

		env2 := NewEnv(t, build, cache.ResponseOptions{}, text("hi", "Last-Modified", lm, "ETag", `W/"v1"`))
		rec = env2.Do("GET", "/b", "If-None-Match", `W/"v1"`)
		assert.Equal(t, 200, rec.Code, "conditional headers on a miss go to the handler untouched")
		assert.Equal(t, `W/"v1"`, rec.Header().Get("Etag"), "the handler's own ETag is kept")
		for _, c := range []struct {
			ims  string
			want int
		}{{lm, 304}, {"Wed, 02 Dec 2026 09:59:59 GMT", 200}, {"Wed, 02 Dec 2026 10:00:01 GMT", 304}, {"Wednesday, 02-Dec-26 10:00:00 GMT", 304}, {"02 Dec 2026", 200}} {
			assert.Equal(t, c.want, env2.Do("GET", "/b", "If-Modified-Since", c.ims).Code, c.ims)
		}
		assert.Equal(t, 304, env2.Do("GET", "/b", "If-None-Match", `"v1"`).Code, "weak comparison")

		env3 := NewEnv(t, build, cache.ResponseOptions{NoETag: true}, text("hi"))
		env3.Do("GET", "/c")
		rec = env3.Do("GET", "/c")
		assert.Empty(t, rec.Header().Get("Etag"), "NoETag")
		assert.Equal(t, 200, env3.Do("GET", "/c", "If-None-Match", `"x"`).Code)
	})

	t.Run("unsafe methods purge the URL and its same-origin Location", func(t *testing.T) {
		t.Parallel()
		var status atomic.Int64
		status.Store(200)
		n := counter()
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				n(w, r)
				return
			}
			w.Header().Set("Location", r.URL.Query().Get("loc"))
			w.Header().Set("Content-Location", "http://other.example/x")
			w.WriteHeader(int(status.Load()))
		})
		fill := func() {
			for _, p := range []string{"/r", "/s", "/x"} {
				env.Do("GET", p)
			}
		}
		fill()
		hits := func(p string) bool {
			return strings.HasPrefix(env.Do("GET", p).Header().Get("Cache-Status"), "kvkit; hit")
		}
		require.True(t, hits("/r"))
		for _, code := range []int64{404, 500} {
			status.Store(code)
			env.Do("POST", "/r?loc=/s")
			assert.True(t, hits("/r"), "a %d changes nothing", code)
			assert.True(t, hits("/s"), "a %d changes nothing", code)
		}
		status.Store(200)
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			fill()
			env.Do(m, "/r?loc=/s")
			assert.True(t, hits("/r"), "%s to another query of /r: the cache key includes the query", m)
			env.Do(m, "/r")
			assert.False(t, hits("/r"), m)
			fill()
			env.Do(m, "/q?loc=http://example.com/s")
			assert.False(t, hits("/s"), "%s: same-origin Location purged", m)
			assert.True(t, hits("/x"), "%s: another origin's Content-Location is not ours", m)
		}

		keep := NewEnv(t, build, cache.ResponseOptions{KeepOnWrite: true}, counter())
		keep.Do("GET", "/r")
		keep.Do("POST", "/r")
		assert.Contains(t, keep.Do("GET", "/r").Header().Get("Cache-Status"), "kvkit; hit", "KeepOnWrite")
	})

	t.Run("miss then hit", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{XCache: true}, text("hello", "X-App", "1"))
		rec := env.Do("GET", "/a")
		assert.Equal(t, 200, rec.Code)
		assert.Equal(t, "hello", rec.Body.String())
		assert.Equal(t, "kvkit; fwd=miss", rec.Header().Get("Cache-Status"))
		assert.Equal(t, "MISS", rec.Header().Get("X-Cache"))
		assert.Equal(t, "5", rec.Header().Get("Content-Length"))

		env.Clock.Advance(10 * time.Second)
		rec = env.Do("GET", "/a")
		assert.Equal(t, 200, rec.Code)
		assert.Equal(t, "hello", rec.Body.String())
		assert.Equal(t, "kvkit; hit; ttl=290", rec.Header().Get("Cache-Status"))
		assert.Equal(t, "10", rec.Header().Get("Age"))
		assert.Equal(t, "HIT", rec.Header().Get("X-Cache"))
		assert.Equal(t, "1", rec.Header().Get("X-App"))
		assert.Equal(t, "text/plain", rec.Header().Get("Content-Type"))
		assert.EqualValues(t, 1, env.Calls.Load())
		env.WaitStored(1)
		assert.Equal(t, kvtest.Counts{Get: 1, Put: 1}, env.NS.Counts(), "one read on the miss, one write; the hit is local")

		env.Clock.Advance(290 * time.Second)
		rec = env.Do("GET", "/a")
		assert.Equal(t, "kvkit; fwd=miss", rec.Header().Get("Cache-Status"), "expired after the default 5 min")
		assert.EqualValues(t, 2, env.Calls.Load())
	})

	t.Run("Content-Length on hits over 2 KiB (net/http sets it below)", func(t *testing.T) {
		t.Parallel()
		body := strings.Repeat("b", 3000)
		env := NewEnv(t, build, cache.ResponseOptions{}, text(body))
		env.Do("GET", "/big")
		rec := env.Do("GET", "/big")
		assert.Equal(t, body, rec.Body.String())
		assert.Equal(t, "3000", rec.Header().Get("Content-Length"))
	})

	t.Run("X-Cache is off by default", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, text("x"))
		assert.Empty(t, env.Do("GET", "/").Header().Values("X-Cache"))
		assert.Empty(t, env.Do("GET", "/").Header().Values("X-Cache"))
	})

	t.Run("a second process reads KV", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, text("shared"))
		env.Do("GET", "/s")
		env.WaitStored(1)
		other, err := cache.NewResponseCache(env.NS, cache.ResponseOptions{Clock: env.Clock.Now})
		require.NoError(t, err)
		defer other.Close(context.Background())
		srv := build(t, other, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Error("the origin must not be called")
		}))
		env.Clock.Advance(5 * time.Second)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/s", nil))
		assert.Equal(t, "shared", rec.Body.String())
		assert.Equal(t, "kvkit; hit; ttl=295", rec.Header().Get("Cache-Status"))
		assert.Equal(t, "5", rec.Header().Get("Age"))
	})

	t.Run("HEAD is served from the GET entry", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, text("hello"))
		env.Do("GET", "/h")
		rec := env.Do("HEAD", "/h")
		assert.Equal(t, 200, rec.Code)
		assert.Empty(t, rec.Body.String())
		assert.Equal(t, "5", rec.Header().Get("Content-Length"))
		assert.True(t, strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit"))
		assert.EqualValues(t, 1, env.Calls.Load())
	})

	t.Run("POST goes straight through", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, text("posted"))
		for range 2 {
			rec := env.Do("POST", "/p")
			assert.Equal(t, "posted", rec.Body.String())
			assert.Empty(t, rec.Header().Get("Cache-Status"))
		}
		assert.EqualValues(t, 2, env.Calls.Load())
		assert.Equal(t, kvtest.Counts{Delete: 4}, env.NS.Counts(), "a 200 to POST purges /p: its http and https keys, nothing else")
	})

	t.Run("query order does not matter", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, counter())
		a := env.Do("GET", "/q?b=2&a=1&a=0").Body.String()
		assert.Equal(t, a, env.Do("GET", "/q?a=1&a=0&b=2").Body.String())
		assert.Equal(t, a, env.Do("GET", "/q?a=1&b=2&a=0").Body.String())
		assert.NotEqual(t, a, env.Do("GET", "/q?a=0&a=1&b=2").Body.String(), "the order of a repeated name is kept")
		assert.NotEqual(t, a, env.Do("GET", "/q?a=1").Body.String())
	})

	for _, tc := range []notStoredCase{
		{"no-store", text("x", "Cache-Control", "no-store"), nil, "no-store"},
		{"private", text("x", "Cache-Control", "private, max-age=60"), nil, "private"},
		{"no-cache", text("x", "Cache-Control", "no-cache"), nil, "no-cache"},
		{"max-age=0", text("x", "Cache-Control", "max-age=0"), nil, "expired"},
		{"Set-Cookie", text("x", "Set-Cookie", "id=1"), nil, "set-cookie"},
		{"Authorization", text("x"), []string{"Authorization", "Bearer t"}, "authorization"},
		{"Vary *", text("x", "Vary", "*"), nil, "vary-star"},
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, nil, "status"},
		{"201", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }, nil, "status"},
		{"request no-store", text("x"), []string{"Cache-Control", "no-store"}, "request-no-store"},
		{"CORS by origin without Vary", text("x", "Access-Control-Allow-Origin", "https://a.example"), nil, "cors"},
	} {
		t.Run("not stored: "+tc.name, func(t *testing.T) {
			t.Parallel()
			env := NewEnv(t, build, cache.ResponseOptions{}, tc.h)
			for range 2 {
				rec := env.Do("GET", "/n", tc.hdr...)
				assert.Equal(t, "kvkit; fwd=miss; "+fwdStatus(rec.Code)+"detail="+tc.detail, rec.Header().Get("Cache-Status"))
			}
			assert.EqualValues(t, 2, env.Calls.Load())
			assert.Zero(t, env.NS.Counts().Writes())
		})
	}

	t.Run("Authorization is stored when the response is public or has s-maxage", func(t *testing.T) {
		t.Parallel()
		for _, cc := range []string{"public", "s-maxage=60", "public, max-age=60"} {
			env := NewEnv(t, build, cache.ResponseOptions{}, text("x", "Cache-Control", cc))
			env.Do("GET", "/a", "Authorization", "Bearer 1")
			rec := env.Do("GET", "/a", "Authorization", "Bearer 2")
			assert.True(t, strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit"), cc)
			assert.EqualValues(t, 1, env.Calls.Load(), cc)
		}
	})

	t.Run("a request with Authorization never gets a response stored for others", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, counter())
		first := env.Do("GET", "/me").Body.String()
		rec := env.Do("GET", "/me", "Authorization", "Bearer 1")
		assert.NotEqual(t, first, rec.Body.String())
		assert.Equal(t, "kvkit; fwd=miss; detail=authorization", rec.Header().Get("Cache-Status"))
		assert.Equal(t, first, env.Do("GET", "/me").Body.String(), "anonymous requests still hit")
	})

	t.Run("Vary selects the variant", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "Accept-Language")
			_, _ = io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
		})
		assert.Equal(t, "lang=en", env.Do("GET", "/v", "Accept-Language", "en").Body.String())
		assert.Equal(t, "lang=fr", env.Do("GET", "/v", "Accept-Language", "fr").Body.String())
		rec := env.Do("GET", "/v", "Accept-Language", "en")
		assert.Equal(t, "lang=en", rec.Body.String())
		assert.True(t, strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit"))
		assert.Equal(t, "lang=fr", env.Do("GET", "/v", "Accept-Language", "fr").Body.String())
		assert.Equal(t, "lang=", env.Do("GET", "/v").Body.String())
		assert.EqualValues(t, 3, env.Calls.Load())
	})

	t.Run("CORS varying by Origin is stored with Vary: Origin", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.Header().Set("Vary", "Origin")
			_, _ = io.WriteString(w, "x")
		})
		env.Do("GET", "/c", "Origin", "https://a.example")
		env.Do("GET", "/c", "Origin", "https://b.example")
		rec := env.Do("GET", "/c", "Origin", "https://a.example")
		assert.Equal(t, "https://a.example", rec.Header().Get("Access-Control-Allow-Origin"))
		assert.True(t, strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit"))
		assert.EqualValues(t, 2, env.Calls.Load())
	})

	t.Run("max-age and s-maxage set the TTL", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			cc  string
			ttl int
		}{{"max-age=60", 60}, {"public, max-age=600, s-maxage=30", 30}, {"max-age=999999999", 86400}} {
			env := NewEnv(t, build, cache.ResponseOptions{}, text("x", "Cache-Control", tc.cc))
			env.Do("GET", "/t")
			assert.Equal(t, fmt.Sprintf("kvkit; hit; ttl=%d", tc.ttl), env.Do("GET", "/t").Header().Get("Cache-Status"), tc.cc)
			env.Clock.Advance(time.Duration(tc.ttl) * time.Second)
			env.Do("GET", "/t")
			assert.EqualValues(t, 2, env.Calls.Load(), "%s: expired after %ds", tc.cc, tc.ttl)
		}
	})

	t.Run("404 is stored, 206 is not", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/206" {
				w.WriteHeader(206)
				return
			}
			http.NotFound(w, r)
		})
		env.Do("GET", "/404")
		rec := env.Do("GET", "/404")
		assert.Equal(t, 404, rec.Code)
		assert.True(t, strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit"))
		env.Do("GET", "/206")
		env.Do("GET", "/206")
		assert.EqualValues(t, 3, env.Calls.Load())
	})

	t.Run("oversized body streams through uncached", func(t *testing.T) {
		t.Parallel()
		big := strings.Repeat("z", 3000)
		env := NewEnv(t, build, cache.ResponseOptions{MaxBodySize: 1024}, func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(big); i += 500 {
				_, _ = io.WriteString(w, big[i:i+500])
			}
		})
		for range 2 {
			rec := env.Do("GET", "/big")
			assert.Equal(t, big, rec.Body.String())
			assert.Equal(t, "kvkit; fwd=miss; detail=too-large", rec.Header().Get("Cache-Status"))
		}
		assert.EqualValues(t, 2, env.Calls.Load())
		assert.Zero(t, env.NS.Counts().Writes())
	})

	t.Run("streaming handlers keep working", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "event: 1\n\n")
			require.NoError(t, http.NewResponseController(w).Flush())
			_, _ = io.WriteString(w, "event: 2\n\n")
		})
		rec := env.Do("GET", "/events")
		assert.True(t, rec.Flushed)
		assert.Equal(t, "event: 1\n\nevent: 2\n\n", rec.Body.String())
		assert.Equal(t, "kvkit; fwd=miss; detail=streamed", rec.Header().Get("Cache-Status"))
		env.Do("GET", "/events")
		assert.EqualValues(t, 2, env.Calls.Load())
	})

	t.Run("hop-by-hop headers are never replayed", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, text("x",
			"Connection", "X-Conn-Only", "X-Conn-Only", "1", "Keep-Alive", "timeout=5", "X-Keep", "yes"))
		env.Do("GET", "/hop")
		rec := env.Do("GET", "/hop")
		require.True(t, strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit"))
		assert.Empty(t, rec.Header().Get("Connection"))
		assert.Empty(t, rec.Header().Get("X-Conn-Only"))
		assert.Empty(t, rec.Header().Get("Keep-Alive"))
		assert.Equal(t, "yes", rec.Header().Get("X-Keep"))
	})

	t.Run("purge by URL", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, counter())
		env.Do("GET", "/p?x=1&y=2")
		env.Do("GET", "/other")
		require.ErrorIs(t, env.Cache.PurgeURL(context.Background(), "/p?y=2&x=1"), kv.ErrInvalidKey, "the key has a host")
		require.NoError(t, env.Cache.PurgeURL(context.Background(), "https://example.com/p?y=2&x=1"))
		assert.Equal(t, "kvkit; fwd=miss", env.Do("GET", "/p?x=1&y=2").Header().Get("Cache-Status"))
		assert.True(t, strings.HasPrefix(env.Do("GET", "/other").Header().Get("Cache-Status"), "kvkit; hit"))
	})

	t.Run("purge by tag", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/product") {
				w.Header().Set("Cache-Tag", "products, "+strings.TrimPrefix(r.URL.Path, "/"))
			}
			_, _ = io.WriteString(w, r.URL.Path)
		})
		for _, p := range []string{"/product1", "/product2", "/home"} {
			rec := env.Do("GET", p)
			assert.Empty(t, rec.Header().Get("Cache-Tag"), "the tag header is stripped")
		}
		env.WaitStored(3)
		env.NS.Reset()
		require.NoError(t, env.Cache.PurgeTag(context.Background(), "product1"))
		assert.Equal(t, kvtest.Counts{Put: 1}, env.NS.Counts(), "a purge is one KV write, whatever the number of entries")
		assert.Equal(t, "kvkit; fwd=miss", env.Do("GET", "/product1").Header().Get("Cache-Status"))
		assert.True(t, strings.HasPrefix(env.Do("GET", "/product1").Header().Get("Cache-Status"), "kvkit; hit"), "the new response is valid")
		assert.True(t, strings.HasPrefix(env.Do("GET", "/product2").Header().Get("Cache-Status"), "kvkit; hit"))
		require.NoError(t, env.Cache.PurgeTag(context.Background(), "products"))
		assert.Equal(t, "kvkit; fwd=miss", env.Do("GET", "/product1").Header().Get("Cache-Status"))
		assert.Equal(t, "kvkit; fwd=miss", env.Do("GET", "/product2").Header().Get("Cache-Status"))
		assert.True(t, strings.HasPrefix(env.Do("GET", "/home").Header().Get("Cache-Status"), "kvkit; hit"))
		env.WaitStored(6)

		// Another process sees the purge within a minute with the purge log
		// off (as here: env's PurgeBound is -1), since it reads a tag's record
		// again that often; with the log, within PurgeBound (cachetest_reval.go).
		other, err := cache.NewResponseCache(env.NS, cache.ResponseOptions{Clock: env.Clock.Now})
		require.NoError(t, err)
		defer other.Close(context.Background())
		srv := build(t, other, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "fresh") }))
		get := func() string {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest("GET", "/product2", nil))
			return rec.Body.String()
		}
		assert.Equal(t, "/product2", get(), "read from KV")
		require.NoError(t, env.Cache.PurgeTag(context.Background(), "products"))
		env.Clock.Advance(59 * time.Second)
		assert.Equal(t, "/product2", get(), "not yet")
		env.Clock.Advance(time.Second)
		assert.Equal(t, "fresh", get())
		require.ErrorIs(t, env.Cache.PurgeTag(context.Background(), ""), kv.ErrInvalidKey)
	})

	t.Run("stale-while-revalidate serves stale and refreshes once", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		var n atomic.Int64
		env := NewEnv(t, build, cache.ResponseOptions{TTL: time.Minute, StaleWhileRevalidate: time.Minute, XCache: true},
			func(w http.ResponseWriter, r *http.Request) {
				i := n.Add(1)
				if i == 2 {
					assert.True(t, cache.IsRefresh(r.Context()))
					<-release
				}
				_, _ = fmt.Fprintf(w, "v%d", i)
			})
		env.Do("GET", "/swr")
		env.Clock.Advance(90 * time.Second)
		for range 5 {
			rec := env.Do("GET", "/swr")
			assert.Equal(t, "v1", rec.Body.String())
			assert.Equal(t, "kvkit; hit; ttl=-30; detail=stale-while-revalidate", rec.Header().Get("Cache-Status"))
			assert.Equal(t, "STALE", rec.Header().Get("X-Cache"))
		}
		close(release)
		require.Eventually(t, func() bool { return env.Cache.Stats().Stored == 2 }, 5*time.Second, time.Millisecond)
		rec := env.Do("GET", "/swr")
		assert.Equal(t, "v2", rec.Body.String())
		assert.Equal(t, "kvkit; hit; ttl=60", rec.Header().Get("Cache-Status"))
		assert.EqualValues(t, 2, env.Calls.Load(), "one refresh for five stale hits")
		assert.EqualValues(t, 1, env.Cache.Stats().Refreshes)
	})

	t.Run("stale-if-error serves stale on a 5xx", func(t *testing.T) {
		t.Parallel()
		var fail atomic.Bool
		env := NewEnv(t, build, cache.ResponseOptions{TTL: time.Minute, StaleIfError: time.Minute},
			func(w http.ResponseWriter, r *http.Request) {
				if fail.Load() {
					http.Error(w, "down", http.StatusServiceUnavailable)
					return
				}
				_, _ = io.WriteString(w, "good")
			})
		env.Do("GET", "/sie")
		fail.Store(true)
		env.Clock.Advance(90 * time.Second)
		rec := env.Do("GET", "/sie")
		assert.Equal(t, 200, rec.Code)
		assert.Equal(t, "good", rec.Body.String())
		// Result().Header is what was sent at WriteHeader, not the live map.
		assert.Equal(t, "kvkit; fwd=stale; fwd-status=503; detail=stale-if-error", rec.Result().Header.Get("Cache-Status"))
		env.Clock.Advance(time.Minute)
		rec = env.Do("GET", "/sie")
		assert.Equal(t, 503, rec.Code, "past the window the error goes through")
	})

	t.Run("concurrent requests for a cold URL call the handler once", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			<-release
			_, _ = w.Write(Body1K)
		})
		const n = 50
		var wg sync.WaitGroup
		recs := make([]*httptest.ResponseRecorder, n)
		for i := range n {
			wg.Go(func() { recs[i] = env.Do("GET", "/cold") })
		}
		require.Eventually(t, func() bool { return env.Cache.Stats().Collapsed == n-1 }, 5*time.Second, time.Millisecond)
		close(release)
		wg.Wait()
		for _, rec := range recs {
			assert.Equal(t, 200, rec.Code)
			assert.Equal(t, Body1K, rec.Body.Bytes())
		}
		assert.EqualValues(t, 1, env.Calls.Load())
		env.WaitStored(1)
		assert.Equal(t, kvtest.Counts{Get: 1, Put: 1}, env.NS.Counts())
	})

	t.Run("uncacheable responses are not serialised behind one another", func(t *testing.T) {
		t.Parallel()
		var inFlight, peak atomic.Int64
		gate := make(chan struct{})
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			cur := inFlight.Add(1)
			for {
				p := peak.Load()
				if cur <= p || peak.CompareAndSwap(p, cur) {
					break
				}
			}
			if cur == 1 {
				<-gate // the first (the leader) waits for the others to pile up
			}
			w.Header().Set("Cache-Control", "no-store")
			_, _ = io.WriteString(w, "x")
			inFlight.Add(-1)
		})
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() { env.Do("GET", "/u") })
		}
		require.Eventually(t, func() bool { return env.Cache.Stats().Collapsed == 4 }, 5*time.Second, time.Millisecond)
		close(gate)
		wg.Wait()
		assert.EqualValues(t, 5, env.Calls.Load())
	})

	t.Run("1000 requests over 20 URLs from 50 clients", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(Body1K) })
		ok := ThousandRequests(env.Server)
		assert.EqualValues(t, 1000, ok)
		assert.EqualValues(t, 20, env.Calls.Load(), "one handler call per URL")
		env.WaitStored(20)
		assert.Equal(t, kvtest.Counts{Get: 20, Put: 20}, env.NS.Counts(), "one KV read and one write per URL")
		t.Logf("1000 requests, 20 URLs, 50 clients: %d handler calls, KV %+v", env.Calls.Load(), env.NS.Counts())
	})

	t.Run("a miss is answered before its KV write ends", func(t *testing.T) {
		t.Parallel()
		f := &Faulty{PutGate: make(chan struct{})}
		env := NewEnvWrapped(t, build, cache.ResponseOptions{}, text("hello"), func(ns kv.Namespace) kv.Namespace {
			f.Namespace = ns
			return f
		})
		var rec *httptest.ResponseRecorder
		ok := within(t, 5*time.Second, "the miss", func() { rec = env.Do("GET", "/slow-put") })
		close(f.PutGate)
		if !ok {
			return
		}
		assert.Equal(t, "hello", rec.Body.String())
		assert.NotContains(t, rec.Header().Get("Cache-Status"), "stored", "the write had not happened when the header went out")
		require.Eventually(t, func() bool { return env.Cache.Stats().Stored == 1 }, 5*time.Second, time.Millisecond)
		assert.True(t, strings.HasPrefix(env.Do("GET", "/slow-put").Header().Get("Cache-Status"), "kvkit; hit"))
	})

	t.Run("a failed KV write is never reported as stored", func(t *testing.T) {
		t.Parallel()
		f := &Faulty{PutErr: kv.ErrUnavailable}
		env := NewEnvWrapped(t, build, cache.ResponseOptions{}, text("hello"), func(ns kv.Namespace) kv.Namespace {
			f.Namespace = ns
			return f
		})
		rec := env.Do("GET", "/fail-put")
		assert.Equal(t, "hello", rec.Body.String())
		assert.NotContains(t, rec.Header().Get("Cache-Status"), "stored")
		require.Eventually(t, func() bool { return f.Puts() == 1 }, 5*time.Second, time.Millisecond)
		require.Eventually(t, func() bool { return env.Cache.Stats().KVErrors == 1 }, 5*time.Second, time.Millisecond)
		assert.Zero(t, env.Cache.Stats().Stored, "Stored counts writes that happened")
		assert.True(t, strings.HasPrefix(env.Do("GET", "/fail-put").Header().Get("Cache-Status"), "kvkit; hit"), "kept in memory")
	})

	t.Run("a KV read stuck in retries is cut short", func(t *testing.T) {
		t.Parallel()
		f := &Faulty{BlockGets: true, GetCtx: make(chan context.Context, 1)}
		env := NewEnvWrapped(t, build, cache.ResponseOptions{KVTimeout: 20 * time.Millisecond}, text("hello"), func(ns kv.Namespace) kv.Namespace {
			f.Namespace = ns
			return f
		})
		var rec *httptest.ResponseRecorder
		if !within(t, 5*time.Second, "the miss", func() { rec = env.Do("GET", "/stuck") }) {
			return
		}
		assert.Equal(t, "hello", rec.Body.String(), "served by the handler (fail open)")
		ctx := <-f.GetCtx
		dl, ok := ctx.Deadline()
		require.True(t, ok, "the read had a deadline")
		assert.LessOrEqual(t, time.Until(dl), 20*time.Millisecond, "KVTimeout's")
		assert.EqualValues(t, 1, env.Cache.Stats().KVErrors, "counted as a KV failure")
	})

	t.Run("KV down: served by the handler, logged without a storm", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, counter())
		env.NS.FailWith(kv.ErrUnavailable)
		for i := range 30 {
			rec := env.Do("GET", fmt.Sprintf("/down/%d", i))
			assert.Equal(t, 200, rec.Code)
			assert.Equal(t, fmt.Sprintf("n=%d path=/down/%d", i+1, i), rec.Body.String())
		}
		require.Eventually(t, func() bool { return env.Cache.Stats().KVErrors == 60 }, 5*time.Second, time.Millisecond,
			"30 failed reads and 30 failed writes")
		logs := env.Logs.String()
		assert.Equal(t, 1, strings.Count(logs, "KV read failed"))
		assert.Equal(t, 1, strings.Count(logs, "KV write failed"))
		assert.Zero(t, env.Cache.Stats().Stored)
		rec := env.Do("GET", "/down/0")
		assert.Equal(t, "n=1 path=/down/0", rec.Body.String(), "kept in memory while KV is down")
	})

	runRangesAndDirectives(t, build)
}

func fwdStatus(code int) string {
	if code >= 500 {
		return fmt.Sprintf("fwd-status=%d; ", code)
	}
	return ""
}

// ThousandRequests sends 1,000 GETs over 20 URLs from 50 concurrent clients
// (each client 20 requests, starting at a different URL) and returns how
// many were answered 200 with Body1K.
func ThousandRequests(srv http.Handler) int64 {
	var ok atomic.Int64
	var wg sync.WaitGroup
	for client := range 50 {
		wg.Go(func() {
			for i := range 20 {
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/page/%d", (client+i)%20), nil))
				if rec.Code == 200 && bytes.Equal(rec.Body.Bytes(), Body1K) {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return ok.Load()
}
