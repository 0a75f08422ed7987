package cache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

type respEnv struct {
	clock *kvtest.Clock
	ns    *kvtest.CountingBulk
	rc    *cache.ResponseCache
	logs  *lockedWriter
}

func newRespEnv(t *testing.T, o cache.ResponseOptions) *respEnv {
	t.Helper()
	env := &respEnv{clock: kvtest.NewClock()}
	env.ns = kvtest.NewCountingBulk(memory.New(memory.Options{Clock: env.clock.Now}))
	env.logs = &lockedWriter{w: &strings.Builder{}}
	o.Clock = env.clock.Now
	o.Logger = newTestLogger(env.logs)
	if o.PurgeBound == 0 {
		o.PurgeBound = -1 // the purge log has its own cases: off here, so KV call counts are the feature's own
	}
	rc, err := cache.NewResponseCache(env.ns, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close(context.Background()) })
	env.rc = rc
	return env
}

func (e *respEnv) serve(target string, h cache.Origin, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	_ = e.rc.Serve(rec, req, h)
	return rec
}

// waitStored waits until n responses have been written to KV (in the
// background, after the response was sent).
func (e *respEnv) waitStored(t *testing.T, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return e.rc.Stats().Stored >= n }, 5*time.Second, time.Millisecond)
}

func respText(body string, hdr ...string) cache.Origin {
	return func(w http.ResponseWriter, r *http.Request) error {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		_, err := io.WriteString(w, body)
		return err
	}
}

func TestResponseCacheOptions(t *testing.T) {
	t.Parallel()
	ns := memory.New(memory.Options{})
	for _, o := range []cache.ResponseOptions{
		{TTL: -1}, {MaxBodySize: kv.MaxValueSize}, {MaxBodySize: -1}, {Statuses: []int{99}},
		{Prefix: strings.Repeat("p", 300)}, {StaleIfError: -time.Second},
	} {
		_, err := cache.NewResponseCache(ns, o)
		assert.ErrorIs(t, err, kv.ErrInvalidOptions, "%+v", o)
	}
	_, err := cache.NewResponseCache(nil, cache.ResponseOptions{})
	assert.ErrorIs(t, err, kv.ErrInvalidOptions)
	rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{MaxBodySize: kv.MaxValueSize - 64<<10})
	require.NoError(t, err)
	require.NoError(t, rc.Close(context.Background()))
}

func TestResponseCacheExpires(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	exp := kvtest.Epoch.Add(90 * time.Second).UTC().Format(http.TimeFormat)
	h := respText("x", "Expires", exp)
	env.serve("/e", h)
	assert.Equal(t, "kvkit; hit; ttl=90", env.serve("/e", h).Header().Get("Cache-Status"))
	bad := respText("x", "Expires", "0")
	assert.Equal(t, "kvkit; fwd=miss; detail=expires", env.serve("/bad", bad).Header().Get("Cache-Status"), "an invalid Expires means already expired")
}

func TestResponseCacheRequestNoStoreStillHits(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	env.serve("/r", respText("x"))
	rec := env.serve("/r", respText("y"), "Cache-Control", "no-store")
	assert.Equal(t, "x", rec.Body.String())
}

func TestResponseCachePurgeURLWithVariants(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	var n atomic.Int64
	h := func(w http.ResponseWriter, r *http.Request) error {
		n.Add(1)
		w.Header().Set("Vary", "Accept-Encoding")
		_, err := io.WriteString(w, r.Header.Get("Accept-Encoding"))
		return err
	}
	env.serve("/v", h, "Accept-Encoding", "gzip")
	env.serve("/v", h, "Accept-Encoding", "br")
	env.serve("/v", h, "Accept-Encoding", "gzip")
	require.EqualValues(t, 2, n.Load())
	env.waitStored(t, 2)
	require.NoError(t, env.rc.PurgeURL(context.Background(), "https://example.com/v"))
	env.serve("/v", h, "Accept-Encoding", "gzip")
	env.serve("/v", h, "Accept-Encoding", "br")
	assert.EqualValues(t, 4, n.Load(), "every variant is gone")
	env.waitStored(t, 4)

	// Another process, which has never seen the old marker, agrees.
	other, err := cache.NewResponseCache(env.ns, cache.ResponseOptions{Clock: env.clock.Now})
	require.NoError(t, err)
	defer other.Close(context.Background())
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v", nil)
	req.Header.Set("Accept-Encoding", "br")
	require.NoError(t, other.Serve(rec, req, h))
	assert.True(t, strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit"))
	assert.EqualValues(t, 4, n.Load())
}

func TestResponseCacheLongURL(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	long := "/" + strings.Repeat("a", 700) + "?q=" + strings.Repeat("b", 300)
	env.serve(long, respText("long"))
	env.waitStored(t, 1)
	env.ns.Reset()
	other, err := cache.NewResponseCache(env.ns, cache.ResponseOptions{Clock: env.clock.Now})
	require.NoError(t, err)
	defer other.Close(context.Background())
	rec := httptest.NewRecorder()
	require.NoError(t, other.Serve(rec, httptest.NewRequest("GET", long, nil), respText("other")))
	assert.Equal(t, "long", rec.Body.String(), "stored under a hashed KV key and found again")
	assert.Equal(t, kvtest.Counts{Get: 2}, env.ns.Counts(), "the entry, and other's first read of the purge log")
}

func TestResponseCacheRefreshPanicIsContained(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	var n atomic.Int64
	h := func(w http.ResponseWriter, r *http.Request) error {
		if n.Add(1) > 1 {
			panic("boom in refresh")
		}
		_, err := io.WriteString(w, "v1")
		return err
	}
	env.serve("/p", h)
	env.clock.Advance(90 * time.Second)
	assert.Equal(t, "v1", env.serve("/p", h).Body.String())
	require.Eventually(t, func() bool { return strings.Contains(env.logs.String(), "boom in refresh") }, 5*time.Second, time.Millisecond)
	assert.Equal(t, "v1", env.serve("/p", h).Body.String(), "still served stale")
}

func TestResponseCacheCloseCancelsRefresh(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	var n atomic.Int64
	started := make(chan struct{})
	h := func(w http.ResponseWriter, r *http.Request) error {
		if n.Add(1) > 1 {
			close(started)
			<-r.Context().Done() // a slow origin: Close cancels it
			return r.Context().Err()
		}
		_, err := io.WriteString(w, "v1")
		return err
	}
	env.serve("/c", h)
	env.clock.Advance(90 * time.Second)
	env.serve("/c", h)
	<-started
	require.NoError(t, env.rc.Close(context.Background()))
	assert.Equal(t, "v1", env.serve("/c", h).Body.String(), "served after Close, no new refresh")
	assert.EqualValues(t, 2, n.Load())
}

func TestResponseCacheOuterHeadersNotStored(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	var id atomic.Int64
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		rec.Header().Set("X-Request-Id", string(rune('a'+id.Add(1)))) // set by an outer middleware
		_ = env.rc.Serve(rec, httptest.NewRequest("GET", "/o", nil), respText("x", "X-Handler", "h"))
		return rec
	}
	serve()
	rec := serve()
	assert.True(t, strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit"))
	assert.Equal(t, "c", rec.Header().Get("X-Request-Id"), "this request's own id, not the stored one")
	assert.Equal(t, "h", rec.Header().Get("X-Handler"))
}

func TestResponseCacheWaiterGivesUp(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{})
	release := make(chan struct{})
	started := make(chan struct{})
	h := func(w http.ResponseWriter, r *http.Request) error {
		close(started)
		<-release
		_, err := io.WriteString(w, "slow")
		return err
	}
	leader := make(chan string)
	go func() { leader <- env.serve("/slow", h).Body.String() }()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		errc <- env.rc.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil).WithContext(ctx), h)
	}()
	require.Eventually(t, func() bool { return env.rc.Stats().Collapsed == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled, "the waiter returns at once")
	close(release)
	assert.Equal(t, "slow", <-leader, "the leader is unaffected")
	assert.Zero(t, env.rc.Stats().KVErrors)
}

func TestResponseCacheServeFresh(t *testing.T) {
	t.Parallel()
	env := newRespEnv(t, cache.ResponseOptions{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	fresh := func(method, target string, hdr ...string) (bool, *httptest.ResponseRecorder) {
		req := httptest.NewRequest(method, target, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		return env.rc.ServeFresh(rec, req), rec
	}
	ok, rec := fresh("GET", "/f")
	assert.False(t, ok)
	assert.Empty(t, rec.Header(), "nothing written on a miss")
	env.serve("/f", respText("x"))
	ok, rec = fresh("GET", "/f")
	assert.True(t, ok)
	assert.Equal(t, "x", rec.Body.String())
	ok, _ = fresh("POST", "/f")
	assert.False(t, ok)
	ok, _ = fresh("GET", "/f", "Authorization", "Bearer t")
	assert.False(t, ok, "not a public response")
	env.clock.Advance(90 * time.Second)
	ok, _ = fresh("GET", "/f")
	assert.False(t, ok, "stale is left to Serve")
	assert.Zero(t, env.ns.Counts().Reads()-1, "ServeFresh never reads KV")
}
