package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/cache"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cacheEnv is a cache over a counting memory namespace on a manual clock.
type cacheEnv struct {
	clock *kvtest.Clock
	mem   *memory.Namespace
	ns    *kvtest.CountingBulk
	c     *cache.Cache[string]
	logs  *lockedWriter
}

func newCacheEnv(t *testing.T, o cache.Options) *cacheEnv {
	t.Helper()
	clock := kvtest.NewClock()
	mem := memory.New(memory.Options{Clock: clock.Now})
	ns := kvtest.NewCountingBulk(mem)
	logs := &lockedWriter{w: &bytes.Buffer{}}
	o.Clock = clock.Now
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	c, err := cache.New[string](ns, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return &cacheEnv{clock: clock, mem: mem, ns: ns, c: c, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  interface {
		io.Writer
		String() string
	}
}

func newTestLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// cacheLoader counts its calls and returns "v<n>:key".
type cacheLoader struct {
	calls atomic.Int64
	err   atomic.Pointer[error]
}

func (l *cacheLoader) Load(_ context.Context, key string) (string, error) {
	n := l.calls.Add(1)
	if p := l.err.Load(); p != nil {
		return "", *p
	}
	return fmt.Sprintf("v%d:%s", n, key), nil
}

func (l *cacheLoader) fail(err error) {
	if err == nil {
		l.err.Store(nil)
		return
	}
	l.err.Store(&err)
}

func TestCacheTiers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newCacheEnv(t, cache.Options{Prefix: "c:", TTL: time.Minute})
	l := &cacheLoader{}

	v, err := env.c.Get(ctx, "a", l)
	require.NoError(t, err)
	assert.Equal(t, "v1:a", v)
	assert.Equal(t, kvtest.Counts{Get: 1, Put: 1}, env.ns.Counts(), "a miss reads KV once and writes once")

	env.ns.Reset()
	for range 10 {
		v, err = env.c.Get(ctx, "a", l)
		require.NoError(t, err)
		assert.Equal(t, "v1:a", v)
	}
	assert.Zero(t, env.ns.Counts().Total(), "local hits make no KV call")
	assert.EqualValues(t, 1, l.calls.Load())

	// A second process (another Cache on the same namespace) finds it in KV.
	other, err := cache.New[string](env.ns, cache.Options{Prefix: "c:", TTL: time.Minute, Clock: env.clock.Now})
	require.NoError(t, err)
	defer other.Close(context.Background())
	v, err = other.Get(ctx, "a", l)
	require.NoError(t, err)
	assert.Equal(t, "v1:a", v)
	v, err = other.Get(ctx, "a", l)
	require.NoError(t, err)
	assert.Equal(t, "v1:a", v)
	assert.Equal(t, kvtest.Counts{Get: 1}, env.ns.Counts(), "a KV hit fills the local tier")
	assert.EqualValues(t, 1, l.calls.Load())
	st := other.Stats()
	assert.Equal(t, int64(2), st.Hits)
	assert.Equal(t, int64(1), st.LocalHits)

	// Expired: loaded again.
	env.clock.Advance(time.Minute)
	v, err = env.c.Get(ctx, "a", l)
	require.NoError(t, err)
	assert.Equal(t, "v2:a", v)
}

func TestCacheKVTTLAndStoredFreshness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		o             cache.Options
		wantKVTTL     time.Duration
		wantFreshened time.Duration
	}{
		{"short TTL is raised to KV's minimum", cache.Options{TTL: 10 * time.Second}, kv.MinTTL, 10 * time.Second},
		{"TTL plus both stale windows", cache.Options{TTL: 2 * time.Minute, StaleWhileRevalidate: time.Minute, StaleIfError: 30 * time.Second}, 210 * time.Second, 2 * time.Minute},
		{"fractions round up to whole seconds", cache.Options{TTL: 90*time.Second + 300*time.Millisecond}, 91 * time.Second, 90*time.Second + 300*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newCacheEnv(t, tt.o)
			_, err := env.c.Get(context.Background(), "k", &cacheLoader{})
			require.NoError(t, err)
			it, found, err := env.mem.Get(context.Background(), "k", kv.GetOptions{})
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, kvtest.Epoch.Add(tt.wantKVTTL).Unix(), it.Expiration.Unix())

			// Freshness travels with the value: a second cache with other
			// options still honours the stored TTL.
			other, err := cache.New[string](env.ns, cache.Options{TTL: time.Hour, Clock: env.clock.Now})
			require.NoError(t, err)
			defer other.Close(context.Background())
			l := &cacheLoader{}
			env.clock.Advance(tt.wantFreshened - time.Millisecond)
			_, err = other.Get(context.Background(), "k", l)
			require.NoError(t, err)
			assert.Zero(t, l.calls.Load(), "still fresh")
			env.clock.Advance(time.Millisecond)
			other2, err := cache.New[string](env.ns, cache.Options{TTL: time.Hour, Clock: env.clock.Now})
			require.NoError(t, err)
			defer other2.Close(context.Background())
			_, err = other2.Get(context.Background(), "k", l)
			require.NoError(t, err)
			if tt.o.StaleWhileRevalidate == 0 {
				assert.EqualValues(t, 1, l.calls.Load(), "expired by the stored freshness")
			}
		})
	}
}

func TestCacheColdKeyConcurrentCallers(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{})
	release := make(chan struct{})
	var calls atomic.Int64
	l := cache.LoaderFunc[string](func(ctx context.Context, key string) (string, error) {
		calls.Add(1)
		<-release
		return "value", nil
	})
	const n = 100
	var started, done sync.WaitGroup
	results := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			results[i], errs[i] = env.c.Get(context.Background(), "cold", l)
		}()
	}
	started.Wait()
	// Let every goroutine reach the flight before the load ends: the load is
	// blocked, so waiting for it to have started is enough for the first,
	// and the rest join because the key stays in flight until release.
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	close(release)
	done.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, "value", results[i])
	}
	assert.EqualValues(t, 1, calls.Load(), "one load")
	c := env.ns.Counts()
	assert.EqualValues(t, 1, c.Put, "one KV write")
	assert.EqualValues(t, 1, c.Get, "one KV read: late callers find the local tier filled")
	st := env.c.Stats()
	assert.EqualValues(t, 1, st.Loads)
}

func TestCacheCancelledCallerDoesNotCancelLoad(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{})
	release := make(chan struct{})
	loadStarted := make(chan struct{})
	var loadCtxErr atomic.Pointer[error]
	l := cache.LoaderFunc[string](func(ctx context.Context, key string) (string, error) {
		close(loadStarted)
		<-release
		err := ctx.Err()
		loadCtxErr.Store(&err)
		return "shared", nil
	})

	ctx1, cancel1 := context.WithCancel(context.Background())
	err1 := make(chan error, 1)
	go func() {
		_, err := env.c.Get(ctx1, "k", l)
		err1 <- err
	}()
	<-loadStarted
	res2 := make(chan string, 1)
	go func() {
		v, err := env.c.Get(context.Background(), "k", l)
		assert.NoError(t, err)
		res2 <- v
	}()

	cancel1()
	select {
	case err := <-err1:
		assert.ErrorIs(t, err, context.Canceled, "the cancelled caller returns at once")
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled caller still blocked")
	}
	close(release)
	assert.Equal(t, "shared", <-res2, "the other caller gets the shared load")
	require.NotNil(t, loadCtxErr.Load())
	assert.NoError(t, *loadCtxErr.Load(), "the load's context was not cancelled")

	// An already-cancelled ctx never starts a load.
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	_, err := env.c.Get(ctx3, "other", l)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestCacheLoadTimeout(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{LoadTimeout: 20 * time.Millisecond})
	l := cache.LoaderFunc[string](func(ctx context.Context, key string) (string, error) {
		<-ctx.Done() // bounded wait: ends when LoadTimeout fires
		return "", ctx.Err()
	})
	_, err := env.c.Get(context.Background(), "k", l)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestCachePanickingLoader(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{})
	release := make(chan struct{})
	var calls atomic.Int64
	l := cache.LoaderFunc[string](func(ctx context.Context, key string) (string, error) {
		calls.Add(1)
		<-release
		panic("boom")
	})
	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := env.c.Get(context.Background(), "k", l)
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return calls.Load() >= 1 }, 5*time.Second, time.Millisecond)
	close(release)
	for range n {
		err := <-errs
		require.Error(t, err)
		assert.ErrorIs(t, err, cache.ErrLoaderPanic)
		var pe *cache.PanicError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "boom", pe.Value)
		assert.NotEmpty(t, pe.Stack)
	}
	assert.Zero(t, env.ns.Counts().Put, "nothing stored")
	// Callers that arrived after a flight ended start another one (errors
	// are not cached), and it panics too; none crashed the process.
	assert.Equal(t, calls.Load(), env.c.Stats().LoadErrors)
	assert.LessOrEqual(t, calls.Load(), int64(n))
}

func TestCacheLoaderErrorNotCached(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{})
	l := &cacheLoader{}
	boom := errors.New("origin down")
	l.fail(boom)
	_, err := env.c.Get(context.Background(), "k", l)
	assert.ErrorIs(t, err, boom)
	l.fail(nil)
	v, err := env.c.Get(context.Background(), "k", l)
	require.NoError(t, err)
	assert.Equal(t, "v2:k", v, "the error was not remembered")
	assert.EqualValues(t, 1, env.ns.Counts().Put)
}

func TestCacheWaitersShareTheLoaderError(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{})
	release := make(chan struct{})
	var calls atomic.Int64
	boom := errors.New("origin down")
	l := cache.LoaderFunc[string](func(ctx context.Context, key string) (string, error) {
		calls.Add(1)
		<-release
		return "", boom
	})
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := env.c.Get(context.Background(), "k", l)
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return calls.Load() >= 1 }, 5*time.Second, time.Millisecond)
	close(release)
	for range n {
		assert.ErrorIs(t, <-errs, boom)
	}
	assert.Zero(t, env.ns.Counts().Put, "errors are not written")
}

func TestCacheStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	ctx := context.Background()
	var calls atomic.Int64
	release := make(chan struct{})
	l := cache.LoaderFunc[string](func(ctx context.Context, key string) (string, error) {
		n := calls.Add(1)
		if n > 1 {
			<-release
		}
		return fmt.Sprintf("v%d", n), nil
	})
	v, err := env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	require.Equal(t, "v1", v)

	env.clock.Advance(90 * time.Second) // expired, inside the SWR window
	reqCtx, cancelReq := context.WithCancel(ctx)
	for range 20 {
		v, err = env.c.Get(reqCtx, "k", l)
		require.NoError(t, err)
		assert.Equal(t, "v1", v, "stale value served at once")
	}
	cancelReq() // the request that started the refresh is gone
	st := env.c.Stats()
	assert.EqualValues(t, 1, st.Refreshes)
	assert.EqualValues(t, 20, st.Stale)
	close(release)
	require.Eventually(t, func() bool {
		v, _ := env.c.Get(ctx, "k", l)
		return v == "v2"
	}, 5*time.Second, time.Millisecond, "refreshed in the background")
	assert.EqualValues(t, 2, calls.Load(), "one refresh")
	assert.EqualValues(t, 1, env.c.Stats().Refreshes)

	// Past the SWR window: a synchronous load.
	env.clock.Advance(3 * time.Minute)
	v, err = env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	assert.Equal(t, "v3", v)
}

func TestCacheStaleWhileRevalidateFromKV(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	ctx := context.Background()
	l := &cacheLoader{}
	_, err := env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	env.clock.Advance(90 * time.Second)
	other, err := cache.New[string](env.ns, cache.Options{TTL: time.Minute, StaleWhileRevalidate: time.Minute, Clock: env.clock.Now})
	require.NoError(t, err)
	v, err := other.Get(ctx, "k", l)
	require.NoError(t, err)
	assert.Equal(t, "v1:k", v, "a stale KV value is served at once")
	require.Eventually(t, func() bool { return other.Stats().Loads == 1 }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return env.ns.Counts().Put == 2 }, 5*time.Second, time.Millisecond, "the refresh writes KV")
	require.NoError(t, other.Close(context.Background()))
	assert.EqualValues(t, 2, l.calls.Load())
	v, err = other.Get(ctx, "k", l)
	require.NoError(t, err)
	assert.Equal(t, "v2:k", v)
}

func TestCacheStaleIfError(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{TTL: time.Minute, StaleWhileRevalidate: time.Minute, StaleIfError: 2 * time.Minute})
	ctx := context.Background()
	l := &cacheLoader{}
	_, err := env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	boom := errors.New("origin down")
	l.fail(boom)

	env.clock.Advance(90 * time.Second) // SWR: served stale, refresh fails
	v, err := env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	assert.Equal(t, "v1:k", v)
	require.Eventually(t, func() bool { return env.c.Stats().LoadErrors == 1 }, 5*time.Second, time.Millisecond)

	env.clock.Advance(time.Minute) // past SWR, inside stale-if-error
	v, err = env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	assert.Equal(t, "v1:k", v, "stale served when the load fails")

	env.clock.Advance(2 * time.Minute) // past every window
	_, err = env.c.Get(ctx, "k", l)
	assert.ErrorIs(t, err, boom)
	require.Eventually(t, func() bool { return strings.Contains(env.logs.String(), "background refresh failed") }, 5*time.Second, time.Millisecond)
}

func TestCacheNegative(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	notFound := fmt.Errorf("user 7: %w", kv.ErrNotFound)
	t.Run("off by default", func(t *testing.T) {
		t.Parallel()
		env := newCacheEnv(t, cache.Options{})
		l := &cacheLoader{}
		l.fail(notFound)
		for range 3 {
			_, err := env.c.Get(ctx, "u7", l)
			assert.ErrorIs(t, err, kv.ErrNotFound)
		}
		assert.EqualValues(t, 3, l.calls.Load())
	})
	t.Run("remembered for NegativeTTL", func(t *testing.T) {
		t.Parallel()
		env := newCacheEnv(t, cache.Options{NegativeTTL: 10 * time.Second})
		l := &cacheLoader{}
		l.fail(notFound)
		for range 3 {
			_, err := env.c.Get(ctx, "u7", l)
			assert.ErrorIs(t, err, kv.ErrNotFound)
		}
		assert.EqualValues(t, 1, l.calls.Load())
		assert.EqualValues(t, 2, env.c.Stats().Negative, "the first caller got the loader's error, the next two the cached answer")
		st := env.c.Stats()
		assert.EqualValues(t, 2, st.LocalHits, "both served from the local tier")
		assert.Zero(t, st.Hits, "a cached not-found is no hit")
		it, found, err := env.mem.Get(ctx, "u7", kv.GetOptions{})
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, kvtest.Epoch.Add(kv.MinTTL).Unix(), it.Expiration.Unix(), "KV TTL never under 60 s")

		env.clock.Advance(10 * time.Second)
		l.fail(nil)
		v, err := env.c.Get(ctx, "u7", l)
		require.NoError(t, err)
		assert.Equal(t, "v2:u7", v)
	})
	t.Run("other errors are not negative", func(t *testing.T) {
		t.Parallel()
		env := newCacheEnv(t, cache.Options{NegativeTTL: time.Minute})
		l := &cacheLoader{}
		l.fail(errors.New("timeout"))
		_, _ = env.c.Get(ctx, "k", l)
		_, _ = env.c.Get(ctx, "k", l)
		assert.EqualValues(t, 2, l.calls.Load())
	})
}

func TestCacheJitter(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{TTL: 100 * time.Second, Jitter: 0.5})
	ctx := context.Background()
	l := &cacheLoader{}
	const n = 200
	for i := range n {
		_, err := env.c.Get(ctx, fmt.Sprint("k", i), l)
		require.NoError(t, err)
	}
	env.clock.Advance(50 * time.Second) // jitter never goes under TTL*(1-Jitter)
	for i := range n {
		_, err := env.c.Get(ctx, fmt.Sprint("k", i), l)
		require.NoError(t, err)
	}
	assert.EqualValues(t, n, l.calls.Load(), "nothing expired before TTL*(1-Jitter)")
	env.clock.Advance(25 * time.Second)
	for i := range n {
		_, err := env.c.Get(ctx, fmt.Sprint("k", i), l)
		require.NoError(t, err)
	}
	reloaded := l.calls.Load() - n
	assert.Greater(t, reloaded, int64(n/5), "some expired early")
	assert.Less(t, reloaded, int64(n), "not all expired together")
}

func TestCacheInvalidate(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{Prefix: "p:"})
	ctx := context.Background()
	l := &cacheLoader{}
	_, err := env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	require.NoError(t, env.c.Invalidate(ctx, "k"))
	_, found, err := env.mem.Get(ctx, "p:k", kv.GetOptions{})
	require.NoError(t, err)
	assert.False(t, found, "deleted from KV")
	v, err := env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	assert.Equal(t, "v2:k", v, "and from the local tier")
	assert.EqualValues(t, 1, env.c.Stats().Invalidates)
}

func TestCacheInvalidateDuringLoad(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{})
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	var calls atomic.Int64
	l := cache.LoaderFunc[string](func(ctx context.Context, key string) (string, error) {
		n := calls.Add(1)
		started <- struct{}{}
		if n == 1 {
			<-release
		}
		return fmt.Sprint("v", n), nil
	})
	first := make(chan string, 1)
	go func() {
		v, err := env.c.Get(ctx, "k", l)
		assert.NoError(t, err)
		first <- v
	}()
	<-started
	require.NoError(t, env.c.Invalidate(ctx, "k"))
	v, err := env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	assert.Equal(t, "v2", v, "a Get after Invalidate does not join the running load")
	close(release)
	assert.Equal(t, "v1", <-first, "the running load still answers its own callers")
	assert.EqualValues(t, 2, calls.Load())
}

func TestCacheKVDownFailsOpen(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{})
	env.ns.FailWith(kv.ErrUnavailable)
	l := &cacheLoader{}
	ctx := context.Background()
	for i := range 50 {
		v, err := env.c.Get(ctx, fmt.Sprint("k", i), l)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("v%d:k%d", i+1, i), v)
	}
	assert.EqualValues(t, 100, env.c.Stats().KVErrors, "50 reads and 50 writes failed")
	logs := env.logs.String()
	assert.Equal(t, 1, strings.Count(logs, "KV read failed"), "logged once, not per request")
	assert.Equal(t, 1, strings.Count(logs, "KV write failed"))
	env.clock.Advance(time.Minute)
	_, err := env.c.Get(ctx, "again", l)
	require.NoError(t, err)
	assert.Contains(t, env.logs.String(), "suppressed=49")
	// Values loaded while KV was down still serve from memory.
	env.ns.Reset()
	v, err := env.c.Get(ctx, "again", l)
	require.NoError(t, err)
	assert.Equal(t, "v51:again", v)
	assert.Zero(t, env.ns.Counts().Total())
}

func TestCacheBadInput(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{})
	ctx := context.Background()
	for _, key := range []string{"", ".", "..", strings.Repeat("x", 513)} {
		_, err := env.c.Get(ctx, key, &cacheLoader{})
		assert.ErrorIs(t, err, kv.ErrInvalidKey, "%q", key)
		assert.ErrorIs(t, env.c.Invalidate(ctx, key), kv.ErrInvalidKey)
	}
	_, err := env.c.Get(ctx, "k", nil)
	assert.ErrorIs(t, err, kv.ErrInvalidOptions)
	assert.Zero(t, env.ns.Counts().Total(), "no KV call for bad input")

	for _, o := range []cache.Options{
		{TTL: -1}, {Jitter: 1}, {Jitter: -0.1}, {LocalMaxBytes: 1, LocalMaxEntries: 1},
		{Prefix: strings.Repeat("p", 512)}, {StaleIfError: -time.Second},
	} {
		_, err := cache.New[string](env.ns, o)
		assert.ErrorIs(t, err, kv.ErrInvalidOptions, "%+v", o)
	}
	_, err = cache.New[string](nil, cache.Options{})
	assert.ErrorIs(t, err, kv.ErrInvalidOptions)
}

func TestCacheLocalMaxBytes(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{LocalMaxBytes: 4 << 10})
	ctx := context.Background()
	big := strings.Repeat("x", 1000)
	l := cache.LoaderFunc[string](func(context.Context, string) (string, error) { return big, nil })
	for i := range 50 {
		_, err := env.c.Get(ctx, fmt.Sprint("k", i), l)
		require.NoError(t, err)
	}
	env.ns.Reset()
	for i := range 50 {
		_, err := env.c.Get(ctx, fmt.Sprint("k", i), l)
		require.NoError(t, err)
	}
	assert.GreaterOrEqual(t, env.ns.Counts().Get, int64(40), "a 4 KiB local tier cannot hold 50 KB of values")
}

func TestCacheCloseCancelsRefresh(t *testing.T) {
	t.Parallel()
	env := newCacheEnv(t, cache.Options{TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	ctx := context.Background()
	var calls atomic.Int64
	l := cache.LoaderFunc[string](func(ctx context.Context, key string) (string, error) {
		if calls.Add(1) > 1 {
			<-ctx.Done() // a slow origin; Close cancels it
			return "", ctx.Err()
		}
		return "v1", nil
	})
	_, err := env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	env.clock.Advance(90 * time.Second)
	v, err := env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	assert.Equal(t, "v1", v)
	require.Eventually(t, func() bool { return calls.Load() == 2 }, 5*time.Second, time.Millisecond)
	require.NoError(t, env.c.Close(context.Background())) // returns: the refresh was cancelled
	v, err = env.c.Get(ctx, "k", l)
	require.NoError(t, err)
	assert.Equal(t, "v1", v, "still served after Close, without a new refresh")
	assert.EqualValues(t, 2, calls.Load())
}
