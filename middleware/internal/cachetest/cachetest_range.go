package cachetest

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/patterns/cache"
)

// body20 is the 20-byte body the range cases cut.
const body20 = "0123456789abcdefghij"

// runRangesAndDirectives runs the cases of Range requests (RFC 9110 §14),
// HEAD misses, and Cache-Control request directives (RFC 9111 §5.2.1).
func runRangesAndDirectives(t *testing.T, build Build) {
	t.Run("Range on a stored 200: single ranges are 206 from the cache", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, text(body20, "Cache-Control", "max-age=60"))
		full := env.Do("GET", "/r")
		require.Equal(t, 200, full.Code)
		etag := full.Header().Get("Etag")
		env.Clock.Advance(3 * time.Second)
		for _, c := range []struct{ rng, body, cr string }{
			{"bytes=0-4", "01234", "bytes 0-4/20"},
			{"bytes=-3", "hij", "bytes 17-19/20"},
			{"bytes=18-", "ij", "bytes 18-19/20"},
			{"bytes=15-99", "fghij", "bytes 15-19/20"},
			{"bytes=-99", body20, "bytes 0-19/20"},
			{"Bytes=0-0", "0", "bytes 0-0/20"},
			{"bytes= 19-19 ,", "j", "bytes 19-19/20"},
			{"bytes=30-40, 2-3", "23", "bytes 2-3/20"},
		} {
			rec := env.Do("GET", "/r", "Range", c.rng)
			assert.Equal(t, 206, rec.Code, c.rng)
			assert.Equal(t, c.body, rec.Body.String(), c.rng)
			assert.Equal(t, c.cr, rec.Header().Get("Content-Range"), c.rng)
			assert.Equal(t, itoa(len(c.body)), rec.Header().Get("Content-Length"), c.rng)
			assert.Equal(t, "text/plain", rec.Header().Get("Content-Type"), c.rng)
			assert.Equal(t, etag, rec.Header().Get("Etag"), c.rng)
			assert.Equal(t, "max-age=60", rec.Header().Get("Cache-Control"), c.rng)
			assert.Equal(t, "bytes", rec.Header().Get("Accept-Ranges"), c.rng)
			assert.Equal(t, "kvkit; hit; ttl=57", rec.Header().Get("Cache-Status"), c.rng)
			assert.Equal(t, "3", rec.Header().Get("Age"), c.rng)
		}
		rec := env.Do("HEAD", "/r", "Range", "bytes=0-4")
		assert.Equal(t, 200, rec.Code, "Range is defined for GET only")
		assert.Equal(t, "20", rec.Header().Get("Content-Length"))
		assert.EqualValues(t, 1, env.Calls.Load(), "every range cut from the stored body")
	})

	t.Run("Range with several ranges is multipart/byteranges", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, text(body20))
		env.Do("GET", "/m")
		rec := env.Do("GET", "/m", "Range", "bytes=0-1,5-6,-2")
		require.Equal(t, 206, rec.Code)
		assert.Empty(t, rec.Header().Get("Content-Range"), "a multipart 206 has Content-Range in its parts")
		assert.Contains(t, rec.Header().Get("Cache-Status"), "kvkit; hit")
		assert.NotEmpty(t, rec.Header().Get("Age"))
		mt, params, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
		require.NoError(t, err)
		assert.Equal(t, "multipart/byteranges", mt)
		assert.Equal(t, itoa(rec.Body.Len()), rec.Header().Get("Content-Length"))
		mr := multipart.NewReader(bytes.NewReader(rec.Body.Bytes()), params["boundary"])
		var got, ranges []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			b, _ := io.ReadAll(p)
			got = append(got, string(b))
			ranges = append(ranges, p.Header.Get("Content-Range"))
			assert.Equal(t, "text/plain", p.Header.Get("Content-Type"))
		}
		assert.Equal(t, []string{"01", "56", "ij"}, got)
		assert.Equal(t, []string{"bytes 0-1/20", "bytes 5-6/20", "bytes 18-19/20"}, ranges)
		assert.EqualValues(t, 1, env.Calls.Load())
	})

	t.Run("unsatisfiable Range is 416 with Content-Range bytes */N", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, text(body20, "Cache-Control", "max-age=60"))
		env.Do("GET", "/u")
		for _, rng := range []string{"bytes=20-30", "bytes=-0", "bytes=20-,99-"} {
			rec := env.Do("GET", "/u", "Range", rng)
			assert.Equal(t, 416, rec.Code, rng)
			assert.Equal(t, "bytes */20", rec.Header().Get("Content-Range"), rng)
			assert.Contains(t, rec.Header().Get("Cache-Status"), "kvkit; hit", rng)
			assert.Empty(t, rec.Header().Get("Cache-Control"), "a 416 is not to be stored downstream as the URL's response")
			assert.NotContains(t, rec.Body.String(), "0123", rng)
		}
		empty := NewEnv(t, build, cache.ResponseOptions{}, text(""))
		empty.Do("GET", "/e")
		rec := empty.Do("GET", "/e", "Range", "bytes=0-")
		assert.Equal(t, 416, rec.Code, "nothing of an empty body is satisfiable (RFC 9110 §14.1.1)")
		assert.Equal(t, "bytes */0", rec.Header().Get("Content-Range"))
		assert.EqualValues(t, 1, env.Calls.Load())
	})

	t.Run("malformed Range is ignored: the whole 200", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, text(body20))
		env.Do("GET", "/x")
		for _, rng := range []string{"bytes=5-2", "bytes=abc", "items=0-1", "bytes=", "bytes=,", "bytes=1-2-3", "bytes=+1-2", "bytes=0-1,5-2", "0-1", "bytes=--1"} {
			rec := env.Do("GET", "/x", "Range", rng)
			assert.Equal(t, 200, rec.Code, rng)
			assert.Equal(t, body20, rec.Body.String(), rng)
			assert.Empty(t, rec.Header().Get("Content-Range"), rng)
		}
		rec := env.Do("GET", "/x", "Range", "bytes="+strings.Repeat("0-0,", 65))
		assert.Equal(t, 200, rec.Code, "over 64 ranges: ignored")
		assert.EqualValues(t, 1, env.Calls.Load())
	})

	t.Run("If-Range: a strong ETag or exact strong Last-Modified keeps the Range", func(t *testing.T) {
		t.Parallel()
		lm := "Wed, 02 Dec 2025 10:00:00 GMT" // before the clock's start: a strong validator
		env := NewEnv(t, build, cache.ResponseOptions{}, text(body20, "Last-Modified", lm))
		etag := env.Do("GET", "/i").Header().Get("Etag")
		for _, c := range []struct {
			name, ifRange string
			want          int
		}{
			{"ETag match", etag, 206},
			{"ETag mismatch", `"other"`, 200},
			{"weak ETag never matches", "W/" + etag, 200},
			{"date equal to Last-Modified", lm, 206},
			{"date differs", "Wed, 02 Dec 2025 10:00:01 GMT", 200},
			{"garbage", "yesterday", 200},
		} {
			rec := env.Do("GET", "/i", "Range", "bytes=0-1", "If-Range", c.ifRange)
			assert.Equal(t, c.want, rec.Code, c.name)
			if c.want == 200 {
				assert.Equal(t, body20, rec.Body.String(), c.name)
			} else {
				assert.Equal(t, "01", rec.Body.String(), c.name)
			}
		}
		rec := env.Do("GET", "/i", "Range", "bytes=99-", "If-Range", `"other"`)
		assert.Equal(t, 200, rec.Code, "a failed If-Range sends the whole response, not 416")
		rec = env.Do("GET", "/i", "Range", "bytes=0-1", "If-None-Match", etag)
		assert.Equal(t, 304, rec.Code, "If-None-Match is evaluated before Range")

		// A Last-Modified equal to the time the response was stored is weak:
		// a date If-Range cannot hold.
		now := env.Clock.Now().UTC().Format(http.TimeFormat)
		weak := NewEnv(t, build, cache.ResponseOptions{}, text(body20, "Last-Modified", now))
		weak.Do("GET", "/w")
		rec = weak.Do("GET", "/w", "Range", "bytes=0-1", "If-Range", now)
		assert.Equal(t, 200, rec.Code)
		assert.EqualValues(t, 1, env.Calls.Load())
	})

	t.Run("a 206 from the handler is served and never stored", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body20))
		})
		rec := env.Do("GET", "/p", "Range", "bytes=0-1")
		assert.Equal(t, 206, rec.Code)
		assert.Equal(t, "01", rec.Body.String())
		assert.Equal(t, "kvkit; fwd=miss; detail=status", rec.Header().Get("Cache-Status"))
		rec = env.Do("GET", "/p", "Range", "bytes=2-3")
		assert.Equal(t, "23", rec.Body.String())
		assert.EqualValues(t, 2, env.Calls.Load(), "the first 206 was not stored")
		env.Do("GET", "/p")
		rec = env.Do("GET", "/p", "Range", "bytes=4-5")
		assert.Equal(t, 206, rec.Code)
		assert.Equal(t, "45", rec.Body.String())
		assert.Contains(t, rec.Header().Get("Cache-Status"), "kvkit; hit")
		assert.EqualValues(t, 3, env.Calls.Load(), "cut from the stored 200")

		_, err := cache.NewResponseCache(env.NS, cache.ResponseOptions{Statuses: []int{200, 206}})
		assert.Error(t, err, "206 cannot be made storable")
	})

	t.Run("a Range miss whose handler ignores Range stores the 200", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, text(body20))
		rec := env.Do("GET", "/g", "Range", "bytes=0-1")
		assert.Equal(t, 200, rec.Code)
		assert.Equal(t, body20, rec.Body.String())
		rec = env.Do("GET", "/g", "Range", "bytes=0-1")
		assert.Equal(t, 206, rec.Code)
		assert.Equal(t, "01", rec.Body.String())
		assert.EqualValues(t, 1, env.Calls.Load())
	})

	t.Run("HEAD miss fills the cache from a GET", func(t *testing.T) {
		t.Parallel()
		var method atomic.Value
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			method.Store(r.Method)
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "hello")
		})
		rec := env.Do("HEAD", "/h")
		assert.Equal(t, 200, rec.Code)
		assert.Empty(t, rec.Body.String())
		assert.Equal(t, "5", rec.Header().Get("Content-Length"))
		assert.Equal(t, "kvkit; fwd=miss", rec.Header().Get("Cache-Status"))
		assert.Equal(t, "GET", method.Load(), "the handler rendered the GET")
		rec = env.Do("GET", "/h")
		assert.Equal(t, "hello", rec.Body.String())
		assert.Contains(t, rec.Header().Get("Cache-Status"), "kvkit; hit")
		rec = env.Do("HEAD", "/h")
		assert.Empty(t, rec.Body.String())
		assert.Contains(t, rec.Header().Get("Cache-Status"), "kvkit; hit")
		assert.EqualValues(t, 1, env.Calls.Load())

		rec = env.Do("HEAD", "/nostore", "Cache-Control", "no-store")
		assert.Equal(t, "HEAD", method.Load(), "a HEAD whose response is not stored reaches the handler as HEAD")
		assert.Equal(t, "kvkit; fwd=miss; detail=request-no-store", rec.Header().Get("Cache-Status"))
	})

	t.Run("request no-cache and max-age=0 go to the handler and store its response", func(t *testing.T) {
		t.Parallel()
		for _, cc := range []string{"no-cache", "max-age=0", `max-age="0"`, "No-Cache, max-stale"} {
			env := NewEnv(t, build, cache.ResponseOptions{}, counter())
			env.Do("GET", "/n")
			rec := env.Do("GET", "/n", "Cache-Control", cc)
			assert.Equal(t, "n=2 path=/n", rec.Body.String(), cc)
			assert.Equal(t, "kvkit; fwd=request", rec.Header().Get("Cache-Status"), cc)
			rec = env.Do("GET", "/n")
			assert.Equal(t, "n=2 path=/n", rec.Body.String(), "%s: the new response is stored for everyone", cc)
			assert.Contains(t, rec.Header().Get("Cache-Status"), "kvkit; hit", cc)
			assert.EqualValues(t, 2, env.Calls.Load(), cc)
		}
		env := NewEnv(t, build, cache.ResponseOptions{}, counter())
		rec := env.Do("GET", "/cold", "Cache-Control", "no-cache")
		assert.Equal(t, "kvkit; fwd=miss", rec.Header().Get("Cache-Status"), "nothing stored: a plain miss")
	})

	t.Run("IgnoreRequestNoCache: no-cache, max-age and min-fresh do not reach the handler", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{IgnoreRequestNoCache: true}, counter())
		env.Do("GET", "/n")
		env.Clock.Advance(10 * time.Second)
		for _, cc := range []string{"no-cache", "max-age=0", "max-age=5", "min-fresh=3600"} {
			rec := env.Do("GET", "/n", "Cache-Control", cc)
			assert.Equal(t, "n=1 path=/n", rec.Body.String(), cc)
			assert.Contains(t, rec.Header().Get("Cache-Status"), "kvkit; hit", cc)
		}
		rec := env.Do("GET", "/cold", "Cache-Control", "only-if-cached")
		assert.Equal(t, 504, rec.Code, "only-if-cached still counts")
		assert.EqualValues(t, 1, env.Calls.Load())
	})

	t.Run("request max-age=N refuses older responses", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, counter())
		env.Do("GET", "/a")
		env.Clock.Advance(10 * time.Second)
		rec := env.Do("GET", "/a", "Cache-Control", "max-age=30")
		assert.Equal(t, "n=1 path=/a", rec.Body.String())
		rec = env.Do("GET", "/a", "Cache-Control", "max-age=10")
		assert.Equal(t, "n=1 path=/a", rec.Body.String(), "an Age of 10 is not more than 10")
		rec = env.Do("GET", "/a", "Cache-Control", "max-age=9")
		assert.Equal(t, "n=2 path=/a", rec.Body.String())
		assert.Equal(t, "kvkit; fwd=request", rec.Header().Get("Cache-Status"))
		for _, bad := range []string{"max-age=abc", "max-age=-1", "max-age=", "max-age=1.5"} {
			rec = env.Do("GET", "/a", "Cache-Control", bad)
			assert.Contains(t, rec.Header().Get("Cache-Status"), "kvkit; hit", "%s is ignored", bad)
		}
		assert.EqualValues(t, 2, env.Calls.Load())
	})

	t.Run("only-if-cached: 504 on a miss, no handler call", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{XCache: true}, counter())
		rec := env.Do("GET", "/o", "Cache-Control", "only-if-cached")
		assert.Equal(t, 504, rec.Code)
		assert.Equal(t, "kvkit; detail=only-if-cached", rec.Header().Get("Cache-Status"))
		assert.Equal(t, "MISS", rec.Header().Get("X-Cache"))
		rec = env.Do("HEAD", "/o", "Cache-Control", "only-if-cached")
		assert.Equal(t, 504, rec.Code)
		assert.Empty(t, rec.Body.String())
		assert.Zero(t, env.Calls.Load())
		env.Do("GET", "/o")
		rec = env.Do("GET", "/o", "Cache-Control", "only-if-cached")
		assert.Equal(t, 200, rec.Code)
		assert.Equal(t, "n=1 path=/o", rec.Body.String())
		rec = env.Do("GET", "/o", "Cache-Control", "only-if-cached, no-cache")
		assert.Equal(t, 504, rec.Code, "no stored response may answer, and the handler may not be asked")
		env.Clock.Advance(301 * time.Second)
		rec = env.Do("GET", "/o", "Cache-Control", "only-if-cached")
		assert.Equal(t, 504, rec.Code, "expired")
		assert.EqualValues(t, 1, env.Calls.Load())
	})

	t.Run("max-stale serves a stale response up to N seconds past freshness", func(t *testing.T) {
		t.Parallel()
		count := counter()
		env := NewEnv(t, build, cache.ResponseOptions{}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60, stale-if-error=600")
			if r.URL.Path == "/strict" {
				w.Header().Set("Cache-Control", "s-maxage=60, stale-if-error=600")
			}
			count(w, r)
		})
		env.Do("GET", "/s")
		env.Do("GET", "/strict")
		env.Clock.Advance(70 * time.Second)
		for _, cc := range []string{"max-stale=10", "max-stale=600", "max-stale", `max-stale="20"`} {
			rec := env.Do("GET", "/s", "Cache-Control", cc)
			assert.Equal(t, "n=1 path=/s", rec.Body.String(), cc)
			assert.Equal(t, "kvkit; hit; ttl=-10; detail=max-stale", rec.Header().Get("Cache-Status"), cc)
			assert.Equal(t, "70", rec.Header().Get("Age"), cc)
		}
		rec := env.Do("GET", "/s", "Cache-Control", "max-stale, min-fresh=1")
		assert.Equal(t, "n=3 path=/s", rec.Body.String())
		assert.Equal(t, "kvkit; fwd=stale; fwd-status=200", rec.Header().Get("Cache-Status"), "min-fresh refuses a stale response")
		rec = env.Do("GET", "/strict", "Cache-Control", "max-stale")
		assert.Equal(t, "kvkit; fwd=stale; fwd-status=200", rec.Header().Get("Cache-Status"), "s-maxage: never stale on a client's word")
		rec = env.Do("GET", "/s2", "Cache-Control", "max-stale=5")
		assert.Equal(t, "kvkit; fwd=miss", rec.Header().Get("Cache-Status"))
		calls := env.Calls.Load()
		env.Clock.Advance(70 * time.Second)
		rec = env.Do("GET", "/s2", "Cache-Control", "max-stale=x")
		assert.Equal(t, "kvkit; fwd=stale; fwd-status=200", rec.Header().Get("Cache-Status"), "a malformed max-stale is ignored")
		assert.Equal(t, calls+1, env.Calls.Load())
	})

	t.Run("min-fresh=N requires N seconds of freshness left", func(t *testing.T) {
		t.Parallel()
		env := NewEnv(t, build, cache.ResponseOptions{}, counter())
		env.Do("GET", "/f")
		env.Clock.Advance(200 * time.Second) // 100 s of 300 left
		rec := env.Do("GET", "/f", "Cache-Control", "min-fresh=100")
		assert.Equal(t, "n=1 path=/f", rec.Body.String())
		rec = env.Do("GET", "/f", "Cache-Control", "min-fresh=101")
		assert.Equal(t, "n=2 path=/f", rec.Body.String())
		assert.Equal(t, "kvkit; fwd=request", rec.Header().Get("Cache-Status"))
		rec = env.Do("GET", "/f", "Cache-Control", "min-fresh=bad")
		assert.Contains(t, rec.Header().Get("Cache-Status"), "kvkit; hit")
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
