package cache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
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

func TestResponseCacheNewOptionsValidated(t *testing.T) {
	t.Parallel()
	ns := memory.New(memory.Options{})
	for _, o := range []cache.ResponseOptions{{Jitter: -0.1}, {Jitter: 1}, {Statuses: []int{200, 206}}} {
		_, err := cache.NewResponseCache(ns, o)
		assert.ErrorIs(t, err, kv.ErrInvalidOptions, "%+v", o)
	}
}

// Jitter shortens each response's freshness by up to the fraction, never
// lengthens it, and spreads it.
func TestResponseCacheJitter(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{TTL: 100 * time.Second, Jitter: 0.5})
	seen := map[string]bool{}
	for i := range 40 {
		p := "/j" + strconv.Itoa(i)
		env.serve(p, respText("x"))
		st := env.serve(p, respText("x")).Header().Get("Cache-Status")
		ttl, err := strconv.Atoi(strings.TrimPrefix(st, "kvkit; hit; ttl="))
		require.NoError(t, err, st)
		assert.True(t, ttl > 50 && ttl <= 100, "ttl=%d", ttl)
		seen[st] = true
	}
	assert.Greater(t, len(seen), 5, "TTLs are spread")
	env2 := newRespEnv(t, cache.ResponseOptions{Jitter: 0.99})
	env2.serve("/one", respText("x", "Cache-Control", "max-age=1"))
	assert.Equal(t, "kvkit; hit; ttl=1", env2.serve("/one", respText("y")).Header().Get("Cache-Status"), "never below a second")
}

// only-if-cached reads KV (another process stored the response) and never
// calls the handler.
func TestResponseCacheOnlyIfCachedReadsKV(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	env.serve("/k", respText("stored", "Cache-Control", "max-age=60, stale-if-error=600"))
	env.waitStored(t, 1)
	other, err := cache.NewResponseCache(env.ns, cache.ResponseOptions{Clock: env.clock.Now})
	require.NoError(t, err)
	defer other.Close(context.Background())
	fail := func(http.ResponseWriter, *http.Request) error { t.Error("handler called"); return nil }
	do := func(target, cc string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("Cache-Control", cc)
		require.NoError(t, other.Serve(rec, req, fail))
		return rec
	}
	rec := do("/k", "only-if-cached")
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, "stored", rec.Body.String())
	assert.Equal(t, "kvkit; hit; ttl=60", rec.Header().Get("Cache-Status"))
	assert.Equal(t, 504, do("/none", "only-if-cached").Code)
	env.clock.Advance(90 * time.Second)
	other2, err := cache.NewResponseCache(env.ns, cache.ResponseOptions{Clock: env.clock.Now})
	require.NoError(t, err)
	defer other2.Close(context.Background())
	other = other2
	assert.Equal(t, 504, do("/k", "only-if-cached").Code, "stale: not without max-stale")
	rec = do("/k", "only-if-cached, max-stale=60")
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, "kvkit; hit; ttl=-30; detail=max-stale", rec.Header().Get("Cache-Status"))
}

// A no-cache request that waits for another request's handler call takes
// its response (made after it arrived) rather than call the handler again.
func TestResponseCacheNoCacheJoinsFlight(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	release := make(chan struct{})
	var calls atomic.Int64
	h := func(w http.ResponseWriter, r *http.Request) error {
		calls.Add(1)
		<-release
		_, err := io.WriteString(w, "one")
		return err
	}
	var wg sync.WaitGroup
	var second *httptest.ResponseRecorder
	wg.Go(func() { env.serve("/f", h) })
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	wg.Go(func() { second = env.serve("/f", h, "Cache-Control", "no-cache") })
	require.Eventually(t, func() bool { return env.rc.Stats().Collapsed == 1 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.Equal(t, "one", second.Body.String())
	assert.EqualValues(t, 1, calls.Load())
}

// A stale entry read from KV by the flight's leader, served because of
// max-stale, is not shared with requests that did not say max-stale.
func TestResponseCacheMaxStaleFromKV(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	env.serve("/m", respText("old", "Cache-Control", "max-age=60, stale-if-error=600"))
	env.waitStored(t, 1)
	env.clock.Advance(90 * time.Second)
	other, err := cache.NewResponseCache(env.ns, cache.ResponseOptions{Clock: env.clock.Now})
	require.NoError(t, err)
	defer other.Close(context.Background())
	serve := func(h cache.Origin, hdr ...string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/m", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		require.NoError(t, other.Serve(rec, req, h))
		return rec
	}
	rec := serve(respText("new"), "Cache-Control", "max-stale=60")
	assert.Equal(t, "old", rec.Body.String())
	assert.Equal(t, "kvkit; hit; ttl=-30; detail=max-stale", rec.Header().Get("Cache-Status"))
	rec = serve(respText("new"))
	assert.Equal(t, "new", rec.Body.String())
	assert.Equal(t, "kvkit; fwd=stale; fwd-status=200", rec.Header().Get("Cache-Status"))
}

// FuzzConditionalHeaders throws arbitrary Range, If-Range, If-None-Match,
// If-Modified-Since and Cache-Control request headers at a cache holding
// an entry: it never panics, never answers 5xx but only-if-cached's 504,
// and each status carries what RFC 9110 asks of it.
func FuzzConditionalHeaders(f *testing.F) {
	f.Add("bytes=0-4", "", "", "", "", uint16(0), false)
	f.Add("bytes=0-1,5-6,-2", `"x"`, "", "", "", uint16(10), false)
	f.Add("bytes=-0", "Wed, 02 Dec 2025 10:00:00 GMT", "", "", "max-stale", uint16(90), false)
	f.Add("bytes=99-", "", "*", "", "no-cache", uint16(0), true)
	f.Add("bytes=5-2", "", "", "Wed, 02 Dec 2099 10:00:00 GMT", "only-if-cached, max-age=0", uint16(400), false)
	f.Add("Bytes= 1-,,", "W/\"y\"", `"a", W/"b"`, "junk", "min-fresh=99999999999999999999, max-stale=abc", uint16(65535), true)
	const body = "0123456789abcdefghij"
	clock := kvtest.NewClock()
	ns := memory.New(memory.Options{Clock: clock.Now})
	rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{Clock: clock.Now, Logger: newTestLogger(io.Discard)})
	require.NoError(f, err)
	f.Cleanup(func() { _ = rc.Close(context.Background()) })
	origin := func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "max-age=60, stale-while-revalidate=60, stale-if-error=600")
		w.Header().Set("Last-Modified", "Wed, 02 Dec 2025 10:00:00 GMT")
		w.Header().Set("Content-Type", "text/plain")
		_, err := io.WriteString(w, body)
		return err
	}
	var mu sync.Mutex // one clock for every worker of this process
	f.Fuzz(func(t *testing.T, rng, ifRange, inm, ims, cc string, secs uint16, head bool) {
		mu.Lock()
		defer mu.Unlock()
		clock.Set(kvtest.Epoch)
		warm := httptest.NewRecorder()
		_ = rc.Serve(warm, httptest.NewRequest("GET", "/f", nil), origin)
		clock.Set(kvtest.Epoch.Add(time.Duration(secs%800) * time.Second))
		method := "GET"
		if head {
			method = "HEAD"
		}
		req := httptest.NewRequest(method, "/f", nil)
		for name, v := range map[string]string{"Range": rng, "If-Range": ifRange, "If-None-Match": inm, "If-Modified-Since": ims, "Cache-Control": cc} {
			if v != "" {
				req.Header[name] = []string{v}
			}
		}
		rec := httptest.NewRecorder()
		if err := rc.Serve(rec, req, origin); err != nil {
			t.Fatalf("Serve: %v", err)
		}
		h, got := rec.Header(), rec.Body.String()
		switch rec.Code {
		case 200:
			if !head && got != body {
				t.Fatalf("200 with body %q", got)
			}
		case 206:
			if head || rng == "" {
				t.Fatalf("206 to %s with Range %q", method, rng)
			}
			if cr := h.Get("Content-Range"); cr == "" && !strings.HasPrefix(h.Get("Content-Type"), "multipart/byteranges") {
				t.Fatalf("206 without Content-Range or multipart: %v", h)
			}
		case 304:
			if got != "" {
				t.Fatalf("304 with a body")
			}
		case 416:
			if h.Get("Content-Range") != "bytes */20" {
				t.Fatalf("416 with Content-Range %q", h.Get("Content-Range"))
			}
		case 504:
			if !strings.Contains(strings.ToLower(cc), "only-if-cached") {
				t.Fatalf("504 without only-if-cached")
			}
		default:
			t.Fatalf("status %d for Range %q If-Range %q INM %q IMS %q CC %q at +%ds", rec.Code, rng, ifRange, inm, ims, cc, secs%800)
		}
		if rec.Code != 504 && h.Get("Cache-Status") == "" {
			t.Fatalf("no Cache-Status")
		}
	})
}

// ServeFresh leaves a request with Cache-Control to Serve.
func TestResponseCacheServeFreshLeavesDirectivesToServe(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	env.serve("/sf", respText("x"))
	req := httptest.NewRequest("GET", "/sf", nil)
	assert.True(t, env.rc.ServeFresh(httptest.NewRecorder(), req))
	req.Header.Set("Cache-Control", "no-cache")
	assert.False(t, env.rc.ServeFresh(httptest.NewRecorder(), req))
	req = httptest.NewRequest("GET", "/sf", nil)
	req.Header.Set("Range", "bytes=0-0")
	rec := httptest.NewRecorder()
	assert.True(t, env.rc.ServeFresh(rec, req))
	assert.Equal(t, 206, rec.Code, "ranges are cut on the hot path too")
}
