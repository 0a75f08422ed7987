package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"github.com/kvkit/kvkit/kv/worker"
)

// These tests run with Go alone, against a stand-in that answers the way the
// Worker's protocol says (worker/README.md); the e2e tests run the real
// Worker in workerd.

const secret = "0123456789abcdef-test-secret"

// fake is a stand-in Worker: handle answers each request; hits counts them.
type fake struct {
	t      *testing.T
	srv    *httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	paths  []string
	handle func(w http.ResponseWriter, r *http.Request)
}

func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *fake {
	t.Helper()
	f := &fake{t: t, handle: handle}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		f.mu.Lock()
		f.paths = append(f.paths, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+secret {
			writeErr(w, 401, "unauthorized", "missing or wrong secret")
			return
		}
		f.handle(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// sleeps records the waits of a Namespace instead of sleeping them.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func (f *fake) ns(opts worker.Options) *worker.Namespace {
	f.t.Helper()
	if opts.HTTPClient == nil {
		opts.HTTPClient = f.srv.Client()
	}
	ns, err := worker.New(f.srv.URL, secret, opts)
	require.NoError(f.t, err)
	return ns
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ url, secret string }{
		"empty url":        {"", secret},
		"not http":         {"ftp://example.com", secret},
		"plain http":       {"http://kv.example.com", secret},
		"query":            {"https://kv.example.com/?a=1", secret},
		"no host":          {"https:///path", secret},
		"short secret":     {"https://kv.example.com", "short"},
		"space in secret":  {"https://kv.example.com", "0123456789 abcdef-xyz"},
		"non-ascii secret": {"https://kv.example.com", "0123456789abcdef-é"},
	} {
		_, err := worker.New(c.url, c.secret, worker.Options{})
		assert.ErrorIs(t, err, kv.ErrInvalidOptions, name)
	}
	_, err := worker.New("https://kv.example.com", secret, worker.Options{MaxAttempts: -1})
	assert.ErrorIs(t, err, kv.ErrInvalidOptions)
	for _, u := range []string{"https://kv.example.workers.dev", "https://example.com/kv/", "http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787"} {
		ns, err := worker.New(u, secret, worker.Options{})
		require.NoError(t, err, u)
		assert.False(t, strings.HasSuffix(ns.URL(), "/"))
	}
}

func TestParseEnv(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	e, err := worker.ParseEnv(env(map[string]string{worker.EnvURL: " https://kv.example.workers.dev ", worker.EnvSecret: secret}))
	require.NoError(t, err)
	assert.Equal(t, worker.Env{URL: "https://kv.example.workers.dev", Secret: secret}, e)

	for name, c := range map[string]struct {
		vars map[string]string
		want string
	}{
		"no url":     {map[string]string{worker.EnvSecret: secret}, "KVKIT_WORKER_URL: is not set"},
		"no secret":  {map[string]string{worker.EnvURL: "https://x.dev"}, "KVKIT_WORKER_SECRET: is not set"},
		"bad url":    {map[string]string{worker.EnvURL: "http://x.dev", worker.EnvSecret: secret}, "KVKIT_WORKER_URL"},
		"bad secret": {map[string]string{worker.EnvURL: "https://x.dev", worker.EnvSecret: "tooshort-secret"}, "KVKIT_WORKER_SECRET"},
	} {
		_, err := worker.ParseEnv(env(c.vars))
		require.ErrorIs(t, err, kv.ErrInvalidOptions, name)
		assert.Contains(t, err.Error(), c.want, name)
		assert.NotContains(t, err.Error(), "tooshort-secret", "the secret never appears in a message")
	}
}

// Every KV rule is checked before any request: not one reaches the Worker.
func TestBadInputMakesNoRequest(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("unexpected request %s %s", r.Method, r.URL) })
	ns := f.ns(worker.Options{})
	ctx := context.Background()
	now := time.Now()
	big := make([]byte, kv.MaxValueSize+1)
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"empty key", ns.Put(ctx, "", []byte("v"), kv.PutOptions{}), kv.ErrInvalidKey},
		{"dot key", ns.Delete(ctx, ".."), kv.ErrInvalidKey},
		{"long key", ns.Put(ctx, strings.Repeat("k", 513), []byte("v"), kv.PutOptions{}), kv.ErrInvalidKey},
		{"not UTF-8", ns.Put(ctx, "a\xffb", []byte("v"), kv.PutOptions{}), kv.ErrInvalidKey},
		{"TTL under 60s", ns.Put(ctx, "k", []byte("v"), kv.PutOptions{TTL: 59 * time.Second}), kv.ErrInvalidTTL},
		{"fractional TTL", ns.Put(ctx, "k", []byte("v"), kv.PutOptions{TTL: 61500 * time.Millisecond}), kv.ErrInvalidTTL},
		{"expiration too soon", ns.Put(ctx, "k", []byte("v"), kv.PutOptions{Expiration: now.Add(30 * time.Second)}), kv.ErrInvalidExpiration},
		{"metadata too large", ns.Put(ctx, "k", []byte("v"), kv.PutOptions{Metadata: json.RawMessage(`"` + strings.Repeat("m", 1100) + `"`)}), kv.ErrMetadataTooLarge},
		{"metadata not JSON", ns.Put(ctx, "k", []byte("v"), kv.PutOptions{Metadata: json.RawMessage(`{`)}), kv.ErrInvalidMetadata},
		{"value too large", ns.Put(ctx, "k", big, kv.PutOptions{}), kv.ErrValueTooLarge},
		{"stream with bad TTL", ns.PutStream(ctx, "k", strings.NewReader("v"), kv.PutOptions{TTL: time.Second}), kv.ErrInvalidTTL},
		{"bulk pair with bad TTL", ns.PutBulk(ctx, []kv.Pair{{Key: "a", Value: []byte("v")}, {Key: "b", PutOptions: kv.PutOptions{TTL: time.Second}}}), kv.ErrInvalidTTL},
		{"bulk write too big", ns.PutBulk(ctx, make([]kv.Pair, kv.MaxBulkWrite+1)), kv.ErrInvalidBatch},
		{"bulk delete empty", ns.DeleteBulk(ctx, nil), kv.ErrInvalidBatch},
		{"bulk delete bad key", ns.DeleteBulk(ctx, []string{"a", "."}), kv.ErrInvalidKey},
	} {
		assert.ErrorIs(t, c.err, c.want, c.name)
	}
	_, _, err := ns.Get(ctx, "k", kv.GetOptions{EdgeCacheTTL: 29 * time.Second})
	assert.ErrorIs(t, err, kv.ErrInvalidTTL, "edge cache TTL under 30s")
	_, _, err = ns.Get(ctx, "\xff", kv.GetOptions{})
	assert.ErrorIs(t, err, kv.ErrInvalidKey)
	_, err = ns.GetBulk(ctx, make([]string, 101), kv.GetOptions{})
	assert.ErrorIs(t, err, kv.ErrInvalidBatch)
	_, err = ns.GetBulk(ctx, []string{"k"}, kv.GetOptions{EdgeCacheTTL: 45500 * time.Millisecond})
	assert.ErrorIs(t, err, kv.ErrInvalidTTL)
	_, err = ns.List(ctx, kv.ListOptions{Limit: 1001})
	assert.ErrorIs(t, err, kv.ErrInvalidLimit)
	_, err = ns.List(ctx, kv.ListOptions{Prefix: strings.Repeat("p", 513)})
	assert.ErrorIs(t, err, kv.ErrInvalidKey)
	_, _, err = ns.GetStream(ctx, "..")
	assert.ErrorIs(t, err, kv.ErrInvalidKey)
	assert.Zero(t, f.hits.Load())
	assert.Zero(t, ns.Requests().Total())
}

func TestErrorsMapToSentinels(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status int
		code   string
		want   error
	}{
		{400, worker.CodeInvalidKey, kv.ErrInvalidKey},
		{400, worker.CodeInvalidTTL, kv.ErrInvalidTTL},
		{400, worker.CodeInvalidExpiration, kv.ErrInvalidExpiration},
		{400, worker.CodeInvalidMetadata, kv.ErrInvalidMetadata},
		{413, worker.CodeMetadataTooLarge, kv.ErrMetadataTooLarge},
		{413, worker.CodeValueTooLarge, kv.ErrValueTooLarge},
		{400, worker.CodeInvalidBatch, kv.ErrInvalidBatch},
		{400, worker.CodeInvalidLimit, kv.ErrInvalidLimit},
		{404, worker.CodeNotFound, kv.ErrNotFound},
		{401, worker.CodeUnauthorized, kv.ErrUnauthorized},
		{403, "", kv.ErrUnauthorized},
	} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			writeErr(w, c.status, c.code, "KV PUT failed: the binding's own words")
		})
		ns := f.ns(worker.Options{})
		err := ns.Put(context.Background(), "k", []byte("v"), kv.PutOptions{})
		require.ErrorIs(t, err, c.want, c.code)
		var we *worker.Error
		require.ErrorAs(t, err, &we)
		assert.Equal(t, c.status, we.Status)
		assert.Equal(t, c.code, we.Code)
		assert.Contains(t, err.Error(), "the binding's own words", "the binding's message is kept")
		var ke *kv.Error
		require.ErrorAs(t, err, &ke)
		assert.Equal(t, "put", ke.Op)
		assert.Equal(t, "k", ke.Key)
		assert.EqualValues(t, 1, f.hits.Load(), "%s is not retried", c.code)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	answers := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { writeErr(w, 503, worker.CodeUnavailable, "KV GET failed: 500") },
		func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "2")
			writeErr(w, 429, worker.CodeRateLimited, "KV PUT failed: 429 Too Many Requests")
		},
		func(w http.ResponseWriter) {
			w.Header().Set("KV-Operations", "1")
			w.WriteHeader(204)
		},
	}
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { answers[min(int(n.Add(1))-1, len(answers)-1)](w) })
	var s sleeps
	ns := f.ns(worker.Options{Sleep: s.sleep, BaseBackoff: 100 * time.Millisecond})
	require.NoError(t, ns.Put(context.Background(), "k", []byte("v"), kv.PutOptions{}))
	assert.EqualValues(t, 3, f.hits.Load())
	waits := s.waits()
	require.Len(t, waits, 2)
	assert.GreaterOrEqual(t, waits[0], 50*time.Millisecond)
	assert.LessOrEqual(t, waits[0], 100*time.Millisecond)
	assert.GreaterOrEqual(t, waits[1], 2*time.Second, "Retry-After is waited out")
	r := ns.Requests()
	assert.EqualValues(t, 3, r.Put)
	assert.EqualValues(t, 2, r.Retries)
	assert.EqualValues(t, 1, r.KVOperations)
}

func TestRetryLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("attempts", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeErr(w, 503, worker.CodeUnavailable, "down") })
		var s sleeps
		ns := f.ns(worker.Options{Sleep: s.sleep, MaxAttempts: 3})
		_, _, err := ns.Get(ctx, "k", kv.GetOptions{})
		require.ErrorIs(t, err, kv.ErrUnavailable)
		assert.Contains(t, err.Error(), "after 3 attempts")
		assert.EqualValues(t, 3, f.hits.Load())
	})
	t.Run("long Retry-After fails at once", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "300")
			writeErr(w, 429, worker.CodeRateLimited, "KV PUT failed: 429 Too Many Requests")
		})
		var s sleeps
		ns := f.ns(worker.Options{Sleep: s.sleep})
		err := ns.Put(ctx, "k", []byte("v"), kv.PutOptions{})
		require.ErrorIs(t, err, kv.ErrRateLimited)
		d, ok := worker.RetryAfter(err)
		assert.True(t, ok)
		assert.Equal(t, 300*time.Second, d)
		assert.EqualValues(t, 1, f.hits.Load())
		assert.Empty(t, s.waits())
	})
	t.Run("never waits past the deadline", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeErr(w, 503, worker.CodeUnavailable, "down") })
		var s sleeps
		ns := f.ns(worker.Options{Sleep: s.sleep, BaseBackoff: time.Minute})
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := ns.Delete(dctx, "k")
		require.ErrorIs(t, err, kv.ErrUnavailable)
		assert.EqualValues(t, 1, f.hits.Load())
		assert.Empty(t, s.waits())
	})
	t.Run("transport errors", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			_ = conn.Close()
		})
		var s sleeps
		ns := f.ns(worker.Options{Sleep: s.sleep, MaxAttempts: 2})
		_, err := ns.List(ctx, kv.ListOptions{})
		require.ErrorIs(t, err, kv.ErrUnavailable)
		assert.GreaterOrEqual(t, ns.Requests().List, int64(2))
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeErr(w, 503, worker.CodeUnavailable, "down") })
		cctx, cancel := context.WithCancel(ctx)
		ns := f.ns(worker.Options{Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }})
		err := ns.Put(cctx, "k", []byte("v"), kv.PutOptions{})
		require.ErrorIs(t, err, context.Canceled)
		assert.EqualValues(t, 1, f.hits.Load())
	})
}

// A missing key is found == false; a 404 that is not about the key (a
// wrong URL, no binding) is ErrNotFound.
func TestNotFound(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("key") == "missing" {
			writeErr(w, 404, worker.CodeKeyNotFound, `no key "missing"`)
			return
		}
		writeErr(w, 404, worker.CodeNotFound, "no KV namespace is bound as KV")
	})
	ns := f.ns(worker.Options{})
	_, found, err := ns.Get(context.Background(), "missing", kv.GetOptions{})
	require.NoError(t, err)
	assert.False(t, found)
	_, _, err = ns.Get(context.Background(), "other", kv.GetOptions{})
	assert.ErrorIs(t, err, kv.ErrNotFound)
	assert.EqualValues(t, 2, f.hits.Load(), "404s are not retried")
}

// PutBulk and DeleteBulk keep every request within the Worker's 1,000 KV
// operations and 16 MiB of JSON; large values get their own PUT.
func TestBulkWritesAreSplit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var sizes []int
	var bodies []int
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/bulk/put", "/v1/bulk/delete":
			var items []json.RawMessage
			require.NoError(t, json.Unmarshal(body, &items))
			mu.Lock()
			sizes, bodies = append(sizes, len(items)), append(bodies, len(body))
			mu.Unlock()
			_, _ = w.Write([]byte(`{"failed":[]}`))
		case "/v1/value":
			mu.Lock()
			sizes = append(sizes, -len(body))
			mu.Unlock()
			w.WriteHeader(204)
		}
	})
	ns := f.ns(worker.Options{})
	ctx := context.Background()
	pairs := make([]kv.Pair, 2500)
	for i := range pairs {
		pairs[i] = kv.Pair{Key: fmt.Sprintf("k%05d", i), Value: []byte("v")}
	}
	require.NoError(t, ns.PutBulk(ctx, pairs))
	assert.Equal(t, []int{1000, 1000, 500}, sizes)
	keys := make([]string, 2500)
	for i := range keys {
		keys[i] = pairs[i].Key
	}
	sizes = nil
	require.NoError(t, ns.DeleteBulk(ctx, keys))
	assert.Equal(t, []int{1000, 1000, 500}, sizes)

	// 40 values of 600 KiB: 16 MiB per body at most; a 2 MiB value alone.
	sizes, bodies = nil, nil
	pairs = make([]kv.Pair, 40)
	for i := range pairs {
		pairs[i] = kv.Pair{Key: fmt.Sprintf("m%02d", i), Value: bytes.Repeat([]byte("x"), 600<<10)}
	}
	pairs = append(pairs, kv.Pair{Key: "large", Value: bytes.Repeat([]byte("y"), 2<<20)})
	require.NoError(t, ns.PutBulk(ctx, pairs))
	require.Len(t, bodies, 2)
	for _, b := range bodies {
		assert.LessOrEqual(t, b, worker.MaxBulkBody)
	}
	assert.Equal(t, []int{27, 13, -(2 << 20)}, sizes)
	r := ns.Requests()
	assert.EqualValues(t, 6, r.BulkPut)
	assert.EqualValues(t, 3, r.BulkDelete)
}

// Keys the Worker could not write make a *kv.BulkError naming them, with
// the first one's cause (the binding's message kept); the others were
// written.
func TestBulkPartialFailure(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"failed":[{"key":"b","code":"rate_limited","message":"KV PUT failed: 429 Too Many Requests"}]}`))
	})
	ns := f.ns(worker.Options{})
	err := ns.PutBulk(context.Background(), []kv.Pair{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}})
	var be *kv.BulkError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, []string{"b"}, be.Keys)
	assert.ErrorIs(t, err, kv.ErrRateLimited)
	assert.Contains(t, err.Error(), "429 Too Many Requests")

	// When every key failed, the error is the cause itself.
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) { writeErr(w, 401, "unauthorized", "no") })
	ns = f.ns(worker.Options{})
	err = ns.DeleteBulk(context.Background(), []string{"a", "b"})
	require.ErrorIs(t, err, kv.ErrUnauthorized)
	assert.False(t, errors.As(err, &be))
}

// A bulk read too large for the binding (25 MB in all) falls back to
// single reads.
func TestBulkGetTooLargeFallsBack(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/bulk/get" {
			writeErr(w, 413, worker.CodeValueTooLarge, "KV GET_BULK failed: 413 Total size of request exceeds the limit of 25MB")
			return
		}
		if k := r.URL.Query().Get("key"); k != "gone" {
			_, _ = w.Write([]byte("value of " + k))
			return
		}
		writeErr(w, 404, worker.CodeKeyNotFound, "no key")
	})
	ns := f.ns(worker.Options{})
	got, err := ns.GetBulk(context.Background(), []string{"a", "b", "gone"}, kv.GetOptions{})
	require.NoError(t, err)
	assert.Len(t, got, 2)
	assert.Equal(t, "value of b", string(got["b"].Value))
	r := ns.Requests()
	assert.EqualValues(t, 1, r.BulkGet)
	assert.EqualValues(t, 3, r.Get)
}

// A streamed value never goes past the limit on the wire: the Worker sees
// one byte over and refuses it, and the caller gets ErrValueTooLarge.
func TestPutStreamTooLarge(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
		writeErr(w, 413, worker.CodeValueTooLarge, "value is over the limit")
	})
	ns := f.ns(worker.Options{})
	err := ns.PutStream(context.Background(), "big", io.LimitReader(zeros{}, 30<<20), kv.PutOptions{})
	require.ErrorIs(t, err, kv.ErrValueTooLarge)
	assert.LessOrEqual(t, got.Load(), int64(kv.MaxValueSize+1))
	assert.EqualValues(t, 1, ns.Requests().Put, "a stream is not retried")
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// The Store's edge cache TTL goes on the wire as cacheTtl, in the query of a
// single read and in the body of a bulk read (the e2e tests show the
// binding acting on it).
func TestEdgeCacheTTLOnTheWire(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/v1/bulk/get" {
			var body struct {
				CacheTTL *int `json:"cacheTtl"`
			}
			require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
			if body.CacheTTL == nil {
				seen = append(seen, "bulk:none")
			} else {
				seen = append(seen, "bulk:"+fmt.Sprint(*body.CacheTTL))
			}
			_, _ = w.Write([]byte(`{"entries":[]}`))
			return
		}
		if v, ok := r.URL.Query()["cacheTtl"]; ok {
			seen = append(seen, "get:"+v[0])
		} else {
			seen = append(seen, "get:none")
		}
		writeErr(w, 404, worker.CodeKeyNotFound, "no key")
	})
	ctx := context.Background()
	ns := f.ns(worker.Options{})
	s := kv.Must(kv.New[string](ns, kv.Options{EdgeCacheTTL: 45 * time.Second}))
	_, _, _ = s.Get(ctx, "k")
	_, _ = s.GetMany(ctx, []string{"a", "b"})
	_, _, _ = s.Get(ctx, "k", kv.NoEdgeCache())
	_, _, _ = s.Get(ctx, "k", kv.EdgeCacheFor(2*time.Hour))
	plain := kv.Must(kv.New[string](ns, kv.Options{}))
	_, _, _ = plain.Get(ctx, "k")
	_, _ = plain.GetMany(ctx, []string{"a"})
	assert.Equal(t, []string{"get:45", "bulk:45", "get:30", "get:7200", "get:none", "bulk:none"}, seen)
}
