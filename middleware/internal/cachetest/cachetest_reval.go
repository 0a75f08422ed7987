package cachetest

import (
	"context"
	"fmt"
	"io"
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
	"github.com/kvkit/kvkit/patterns/cache"
)

// versioned is an origin with an ETag of its current version: it answers
// 304 to an If-None-Match naming it, and records the conditional headers
// it was sent and how many bodies it wrote.
type versioned struct {
	mu      sync.Mutex
	version int
	cc      string // Cache-Control of its responses
	inm     []string
	ims     []string
	bodies  atomic.Int64
	on304   http.Header // extra headers on a 304
}

func (v *versioned) serve(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	ver, cc := v.version, v.cc
	v.inm = append(v.inm, r.Header.Get("If-None-Match"))
	v.ims = append(v.ims, r.Header.Get("If-Modified-Since"))
	extra := v.on304
	v.mu.Unlock()
	etag := fmt.Sprintf(`"v%d"`, ver)
	w.Header().Set("Etag", etag)
	w.Header().Set("Cache-Control", cc)
	if r.Header.Get("If-None-Match") == etag {
		for k, vals := range extra {
			w.Header()[k] = vals
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	v.bodies.Add(1)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = fmt.Fprintf(w, "body v%d %s", ver, Body1K)
}

func (v *versioned) set(version int, cc string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.version, v.cc = version, cc
}

// lastSent returns the If-None-Match and If-Modified-Since of the last call.
func (v *versioned) lastSent() (string, string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.inm[len(v.inm)-1], v.ims[len(v.ims)-1]
}

// storedBody returns the body of the KV entry of http://example.com+path.
func storedBody(t *testing.T, env *Env, path string) []byte {
	t.Helper()
	it, found, err := env.NS.Get(context.Background(), "http:http://example.com"+path, kv.GetOptions{})
	require.NoError(t, err)
	require.True(t, found, "stored in KV")
	i := strings.Index(string(it.Value), "body v")
	require.GreaterOrEqual(t, i, 0)
	return it.Value[i:]
}

func runReval(t *testing.T, build Build) {
	runPurgeLog(t, build)
	t.Run("revalidation: a 304 renews the stale entry without its body", func(t *testing.T) {
		t.Parallel()
		v := &versioned{version: 1, cc: "max-age=60", on304: http.Header{"Cache-Control": {"max-age=120"}, "X-Renewed": {"yes"}}}
		env := NewEnv(t, build, cache.ResponseOptions{XCache: true}, v.serve)
		first := env.Do("GET", "/r")
		require.Equal(t, "kvkit; fwd=miss", first.Header().Get("Cache-Status"))
		env.WaitStored(1)
		before := storedBody(t, env, "/r")

		env.Clock.Advance(61 * time.Second)
		env.NS.Reset()
		rec := env.Do("GET", "/r", "If-None-Match", `"not-the-client's-304"`)
		inm, _ := v.lastSent()
		assert.Equal(t, `"v1"`, inm, "the cache's validator, not the client's")
		assert.Equal(t, 200, rec.Code)
		assert.Equal(t, first.Body.String(), rec.Body.String(), "the stored body")
		assert.Equal(t, "kvkit; fwd=stale; fwd-status=304", rec.Header().Get("Cache-Status"))
		assert.Equal(t, "REVALIDATED", rec.Header().Get("X-Cache"))
		assert.Equal(t, "yes", rec.Header().Get("X-Renewed"), "the 304's headers replace the stored ones")
		assert.Equal(t, "max-age=120", rec.Header().Get("Cache-Control"))
		assert.Equal(t, "text/plain", rec.Header().Get("Content-Type"), "stored headers the 304 did not name stay")
		assert.Equal(t, `"v1"`, rec.Header().Get("Etag"))
		assert.Equal(t, "0", rec.Header().Get("Age"))
		assert.Equal(t, fmt.Sprint(len(first.Body.String())), rec.Header().Get("Content-Length"))
		assert.EqualValues(t, 1, v.bodies.Load(), "the handler rendered the body once")
		env.WaitStored(2)
		assert.Equal(t, kvtest.Counts{Get: 1, Put: 1}, env.NS.Counts(), "one read on the miss, one write of the renewed entry")
		assert.Equal(t, before, storedBody(t, env, "/r"), "the stored body bytes are unchanged")
		assert.EqualValues(t, 1, env.Cache.Stats().Revalidated)

		rec = env.Do("GET", "/r")
		assert.Equal(t, "kvkit; hit; ttl=120", rec.Header().Get("Cache-Status"), "freshness from the 304")
		assert.Equal(t, "yes", rec.Header().Get("X-Renewed"))

		// Stale again: a client conditional matching the renewed entry gets a 304 from the cache.
		env.Clock.Advance(121 * time.Second)
		rec = env.Do("GET", "/r", "If-None-Match", `"v1"`)
		assert.Equal(t, 304, rec.Code)
		assert.Empty(t, rec.Body.String())
		assert.Equal(t, "kvkit; fwd=stale; fwd-status=304", rec.Header().Get("Cache-Status"))
		assert.EqualValues(t, 1, v.bodies.Load())
		assert.EqualValues(t, 3, env.Calls.Load(), "a miss and two revalidations")
	})

	t.Run("revalidation: a 200 replaces the stale entry", func(t *testing.T) {
		t.Parallel()
		v := &versioned{version: 1, cc: "max-age=60"}
		env := NewEnv(t, build, cache.ResponseOptions{}, v.serve)
		env.Do("GET", "/r")
		env.WaitStored(1)
		env.Clock.Advance(61 * time.Second)
		v.set(2, "max-age=30")
		rec := env.Do("GET", "/r", "If-None-Match", `"v1"`)
		inm, _ := v.lastSent()
		assert.Equal(t, `"v1"`, inm)
		assert.Equal(t, 200, rec.Code, "the client's validator is old: it gets the new body")
		assert.True(t, strings.HasPrefix(rec.Body.String(), "body v2 "))
		assert.Equal(t, "kvkit; fwd=stale; fwd-status=200", rec.Header().Get("Cache-Status"))
		env.WaitStored(2)
		assert.True(t, strings.HasPrefix(string(storedBody(t, env, "/r")), "body v2 "), "replaced in KV")
		rec = env.Do("GET", "/r")
		assert.Equal(t, "kvkit; hit; ttl=30", rec.Header().Get("Cache-Status"))
		assert.True(t, strings.HasPrefix(rec.Body.String(), "body v2 "))
		assert.Zero(t, env.Cache.Stats().Revalidated)
	})

	t.Run("revalidation: Last-Modified alone sends If-Modified-Since only", func(t *testing.T) {
		t.Parallel()
		lm := "Wed, 02 Dec 2026 10:00:00 GMT"
		var sent atomic.Value
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			sent.Store([2]string{r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")})
			w.Header().Set("Last-Modified", lm)
			w.Header().Set("Cache-Control", "max-age=10")
			if r.Header.Get("If-Modified-Since") == lm {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			_, _ = io.WriteString(w, "dated")
		})
		require.NotEmpty(t, env.Do("GET", "/d").Header().Get("Etag"), "the cache adds its ETag")
		env.Clock.Advance(11 * time.Second)
		rec := env.Do("GET", "/d")
		assert.Equal(t, [2]string{"", lm}, sent.Load(), "the cache's own ETag means nothing to the handler")
		assert.Equal(t, "dated", rec.Body.String())
		assert.Equal(t, "kvkit; fwd=stale; fwd-status=304", rec.Header().Get("Cache-Status"))
	})

	t.Run("revalidation inside stale-while-revalidate", func(t *testing.T) {
		t.Parallel()
		v := &versioned{version: 1, cc: "max-age=60, stale-while-revalidate=60"}
		env := NewEnv(t, build, cache.ResponseOptions{}, v.serve)
		env.Do("GET", "/swr")
		env.WaitStored(1)
		before := storedBody(t, env, "/swr")

		// The handler answers 304: the entry is renewed in the background.
		env.Clock.Advance(90 * time.Second)
		env.NS.Reset()
		rec := env.Do("GET", "/swr", "If-None-Match", `"client"`)
		assert.Equal(t, "kvkit; hit; ttl=-30; detail=stale-while-revalidate", rec.Header().Get("Cache-Status"))
		require.Eventually(t, func() bool { return env.Cache.Stats().Stored == 2 }, 5*time.Second, time.Millisecond)
		inm, _ := v.lastSent()
		assert.Equal(t, `"v1"`, inm, "the refresh sends the entry's validator, not the client's")
		assert.EqualValues(t, 1, env.Cache.Stats().Revalidated)
		assert.EqualValues(t, 1, v.bodies.Load())
		assert.Equal(t, kvtest.Counts{Put: 1}, env.NS.Counts(), "one write, no read")
		assert.Equal(t, before, storedBody(t, env, "/swr"))
		rec = env.Do("GET", "/swr")
		assert.Equal(t, "kvkit; hit; ttl=60", rec.Header().Get("Cache-Status"), "freshness renewed")

		// The handler answers 200: the entry is replaced in the background.
		env.Clock.Advance(90 * time.Second)
		v.set(2, "max-age=60, stale-while-revalidate=60")
		env.Do("GET", "/swr")
		require.Eventually(t, func() bool { return env.Cache.Stats().Stored == 3 }, 5*time.Second, time.Millisecond)
		rec = env.Do("GET", "/swr")
		assert.Equal(t, "kvkit; hit; ttl=60", rec.Header().Get("Cache-Status"))
		assert.True(t, strings.HasPrefix(rec.Body.String(), "body v2 "))
		assert.EqualValues(t, 1, env.Cache.Stats().Revalidated)
		assert.EqualValues(t, 2, v.bodies.Load())
	})

	t.Run("KeepStale < 0: an expired entry is gone, no revalidation", func(t *testing.T) {
		t.Parallel()
		v := &versioned{version: 1, cc: "max-age=60"}
		env := NewEnv(t, build, cache.ResponseOptions{KeepStale: -1}, v.serve)
		env.Do("GET", "/k")
		env.Clock.Advance(61 * time.Second)
		rec := env.Do("GET", "/k")
		assert.Equal(t, "kvkit; fwd=miss", rec.Header().Get("Cache-Status"))
		inm, _ := v.lastSent()
		assert.Empty(t, inm)
	})
}

// runPurgeLog is the purge log's cases: purges made by one process reach
// another sharing the namespace within PurgeBound, for one KV read per
// PurgeBound per process.
func runPurgeLog(t *testing.T, build Build) {
	// second builds another process's server over env's namespace.
	second := func(t *testing.T, env *Env, o cache.ResponseOptions, h http.HandlerFunc) (*cache.ResponseCache, func(path string) *http.Response) {
		o.Clock = env.Clock.Now
		rc, err := cache.NewResponseCache(env.NS, o)
		require.NoError(t, err)
		t.Cleanup(func() { _ = rc.Close(context.Background()) })
		srv := build(t, rc, h)
		return rc, func(path string) *http.Response {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			return rec.Result()
		}
	}
	body := func(r *http.Response) string {
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	tagged := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Tag", "t-"+strings.TrimPrefix(r.URL.Path, "/"))
		_, _ = io.WriteString(w, "a"+r.URL.Path)
	}

	t.Run("purges reach another process within PurgeBound, not before", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{PurgeBound: 5 * time.Second}, tagged)
		for _, p := range []string{"/u", "/tagged", "/kept"} {
			env.Do("GET", p)
		}
		env.WaitStored(3)
		_, get := second(t, env, cache.ResponseOptions{PurgeBound: 5 * time.Second}, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "b"+r.URL.Path)
		})
		for _, p := range []string{"/u", "/tagged", "/kept"} {
			require.Equal(t, "a"+p, body(get(p)), "B reads A's entries from KV")
		}
		env.NS.Reset()
		require.NoError(t, env.Cache.PurgeURL(context.Background(), "http://example.com/u"))
		require.NoError(t, env.Cache.PurgeTag(context.Background(), "t-tagged"))
		assert.Equal(t, kvtest.Counts{Get: 2, Put: 3, Delete: 2}, env.NS.Counts(),
			"PurgeURL: 2 deletes + the log (1 read, 1 write); PurgeTag: the tag record + the log")

		env.Clock.Advance(5*time.Second - time.Millisecond)
		assert.Equal(t, "a/u", body(get("/u")), "B, before the bound: its local copy")
		assert.Equal(t, "a/tagged", body(get("/tagged")))
		env.Clock.Advance(time.Millisecond)
		assert.Equal(t, "b/u", body(get("/u")), "B, at the bound")
		assert.Equal(t, "b/tagged", body(get("/tagged")))
		assert.Equal(t, "a/kept", body(get("/kept")), "what was not purged stays")
	})

	t.Run("the purge log costs one KV read per PurgeBound per process, whatever the traffic", func(t *testing.T) {
		t.Parallel()
		for _, bound := range []time.Duration{5 * time.Second, time.Second} {
			env := NewEnv(t, build, cache.ResponseOptions{PurgeBound: bound}, text("x"))
			env.Do("GET", "/hot")
			env.WaitStored(1)
			env.NS.Reset()
			const step = 50 * time.Millisecond
			var n int
			for elapsed := step; elapsed <= time.Minute; elapsed += step {
				env.Clock.Advance(step)
				for range 5 {
					require.Contains(t, env.Do("GET", "/hot").Header().Get("Cache-Status"), "kvkit; hit")
					n++
				}
			}
			perMin := int64(time.Minute / bound)
			assert.Equal(t, kvtest.Counts{Get: perMin}, env.NS.Counts(), "bound %v", bound)
			t.Logf("PurgeBound %v: %d hits in a minute, %d KV reads", bound, n, env.NS.Counts().Get)
		}
	})

	t.Run("a process that missed what the log dropped starts over", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{PurgeBound: 5 * time.Second, TTL: time.Hour}, tagged)
		env.Do("GET", "/x")
		env.WaitStored(1)
		_, get := second(t, env, cache.ResponseOptions{PurgeBound: 5 * time.Second}, tagged)
		require.Equal(t, "a/x", body(get("/x")))
		require.NoError(t, env.Cache.PurgeURL(context.Background(), "http://example.com/gone"))
		env.Clock.Advance(11 * time.Minute) // B idle; the log drops the purge of /gone
		require.NoError(t, env.Cache.PurgeURL(context.Background(), "http://example.com/other"))
		env.NS.Reset()
		assert.Equal(t, "a/x", body(get("/x")))
		assert.Equal(t, kvtest.Counts{Get: 2}, env.NS.Counts(), "the log, then /x again from KV: B's memory was emptied")
	})

	t.Run("PurgeBound < 0: no purge log", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{PurgeBound: -1}, text("x"))
		env.Do("GET", "/n")
		env.WaitStored(1)
		env.NS.Reset()
		require.NoError(t, env.Cache.PurgeURL(context.Background(), "http://example.com/n"))
		env.Clock.Advance(time.Minute)
		env.Do("GET", "/m")
		env.WaitStored(2)
		assert.Equal(t, kvtest.Counts{Get: 1, Put: 1, Delete: 2}, env.NS.Counts(), "the deletes, and /m's miss and store: no log read or write")
	})
}
