package counter_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/patterns/counter"
)

func (f *fixture) limiter(t *testing.T, limit int, window time.Duration, opts counter.LimiterOptions) *counter.Limiter {
	t.Helper()
	opts.Clock = f.clock.Now
	if opts.Tick == nil {
		opts.Tick = f.tick
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	l, err := counter.NewLimiter(f.rec, limit, window, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// allowMany runs n Allow calls from 8 goroutines and returns how many passed.
func allowMany(t *testing.T, l *counter.Limiter, key string, n int) int {
	t.Helper()
	var ok atomic.Int64
	var wg sync.WaitGroup
	per := make(chan struct{}, n)
	for range n {
		per <- struct{}{}
	}
	close(per)
	for range 8 {
		wg.Go(func() {
			for range per {
				res, err := l.Allow(context.Background(), key)
				assert.NoError(t, err)
				if res.Allowed {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(ok.Load())
}

func TestLimiterExactInOneProcessThenSlidingFormula(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const limit, window = 10, 10 * time.Second
	l := f.limiter(t, limit, window, counter.LimiterOptions{})
	require.Equal(t, f.clock.Now(), f.clock.Now().Truncate(window), "the test starts on a window boundary")

	assert.Equal(t, limit, allowMany(t, l, "k", 3*limit), "exactly the limit in the first window")

	// The formula, computed here independently: an event passes while
	// round(prev × (window − elapsed)/window + cur) + 1 <= limit.
	expect := func(prev, cur int, elapsed time.Duration, attempts int) int {
		w := float64(window-elapsed) / float64(window)
		n := 0
		for range attempts {
			if int(math.Round(float64(prev)*w+float64(cur+n)))+1 <= limit {
				n++
			}
		}
		return n
	}
	steps := []struct {
		advance time.Duration
		elapsed time.Duration // into the second window
		prevCur func(done int) (int, int)
		want    int
	}{
		{12500 * time.Millisecond, 2500 * time.Millisecond, func(int) (int, int) { return 10, 0 }, 2},
		{5 * time.Second, 7500 * time.Millisecond, func(d int) (int, int) { return 10, d }, 5},
		{2 * time.Second, 9500 * time.Millisecond, func(d int) (int, int) { return 10, d }, 2},
	}
	done := 0
	for i, s := range steps {
		f.clock.Advance(s.advance)
		prev, cur := s.prevCur(done)
		want := expect(prev, cur, s.elapsed, 20)
		require.Equal(t, s.want, want, "step %d: the table agrees with the formula", i)
		got := allowMany(t, l, "k", 20)
		assert.Equal(t, want, got, "step %d at %v into the window", i, s.elapsed)
		done += got
	}

	// A different key has its own quota.
	assert.Equal(t, 2, allowMany(t, l, "other", 2))
}

func TestLimiterResult(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, algo := range []counter.Algorithm{counter.SlidingWindow, counter.FixedWindow} {
		t.Run(map[counter.Algorithm]string{counter.SlidingWindow: "sliding", counter.FixedWindow: "fixed"}[algo], func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			l := f.limiter(t, 3, time.Minute, counter.LimiterOptions{Algorithm: algo})
			f.clock.Advance(15 * time.Second)
			end := kvtestEpochPlus(time.Minute)
			for i, want := range []int{2, 1, 0} {
				res, err := l.Allow(ctx, "k")
				require.NoError(t, err)
				assert.Equal(t, counter.Result{Allowed: true, Limit: 3, Remaining: want, Reset: end}, res, "request %d", i)
			}
			res, err := l.Allow(ctx, "k")
			require.NoError(t, err)
			assert.False(t, res.Allowed)
			assert.Equal(t, 0, res.Remaining)
			// Fixed: the window's end, 45 s away. Sliding: the count of 3
			// becomes the previous window's, weighted down to fit one more
			// at 1/3 into the next window: 45 s + 20 s.
			want := 45 * time.Second
			if algo == counter.SlidingWindow {
				want = 65 * time.Second
			}
			assert.InDelta(t, float64(want), float64(res.RetryAfter), float64(time.Millisecond))

			f.clock.Advance(res.RetryAfter)
			res, err = l.Allow(ctx, "k")
			require.NoError(t, err)
			assert.True(t, res.Allowed, "allowed again after RetryAfter")
		})
	}
}

// Remaining in a sliding window counts the previous window's weighted
// share, on allowed and denied requests alike; a closed limiter reports the
// whole limit less the request.
func TestLimiterSlidingRemaining(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	l := f.limiter(t, 10, time.Minute, counter.LimiterOptions{})
	for range 6 {
		res, err := l.Allow(ctx, "k")
		require.NoError(t, err)
		require.True(t, res.Allowed)
	}
	f.clock.Advance(time.Minute + 30*time.Second) // half the previous window still counts: 3
	var got []int
	for range 9 {
		res, err := l.Allow(ctx, "k")
		require.NoError(t, err)
		got = append(got, res.Remaining)
		if !res.Allowed {
			got = append(got, -1)
		}
	}
	assert.Equal(t, []int{6, 5, 4, 3, 2, 1, 0, 0, -1, 0, -1}, got)

	res, err := l.AllowN(ctx, "k", 2)
	require.NoError(t, err)
	assert.Equal(t, counter.Result{Limit: 10, Remaining: 0, Reset: res.Reset, RetryAfter: res.RetryAfter}, res, "denied")

	require.NoError(t, l.Close(ctx))
	res, err = l.AllowN(ctx, "k", 2)
	assert.ErrorIs(t, err, counter.ErrClosed)
	assert.True(t, res.Allowed)
	assert.Equal(t, 8, res.Remaining)
}

func kvtestEpochPlus(d time.Duration) time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(d)
}

func TestLimiterSyncsAtMostOncePerSecondPerKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	l := f.limiter(t, 5000, time.Minute, counter.LimiterOptions{})
	for i := range 1000 {
		_, err := l.Allow(ctx, "k")
		require.NoError(t, err)
		if i%100 == 99 {
			f.flushTick()
			f.clock.Advance(50 * time.Millisecond) // 1,000 requests over 0.5 s
		}
	}
	counts := f.calls.Counts()
	t.Logf("1,000 requests on one key in 0.5 s: %d reads, %d writes", counts.Reads(), counts.Writes())
	assert.LessOrEqual(t, counts.Reads(), int64(1), "the current and the previous window, in one bulk read")
	assert.LessOrEqual(t, counts.Writes(), int64(1))

	require.NoError(t, l.Flush(ctx))
	start := f.clock.Now().Truncate(time.Minute)
	it, found, err := f.mem.Get(ctx, "ratelimit:k:"+strconv.FormatInt(start.Unix(), 10), kv.GetOptions{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "1000", string(it.Value))
	assert.Equal(t, f.clock.Now().Add(2*time.Minute).Unix(), it.Expiration.Unix(), "TTL covers two windows")
}

func TestLimiterShortWindowTTLNeverUnderMinTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	l := f.limiter(t, 5, time.Second, counter.LimiterOptions{Algorithm: counter.FixedWindow})
	_, err := l.Allow(ctx, "k")
	require.NoError(t, err)
	require.NoError(t, l.Flush(ctx))
	it, found, err := f.mem.Get(ctx, "ratelimit:k:"+strconv.FormatInt(f.clock.Now().Unix(), 10), kv.GetOptions{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, f.clock.Now().Add(kv.MinTTL).Unix(), it.Expiration.Unix())
}

func TestLimitersSharingANamespace(t *testing.T) {
	t.Parallel()
	for _, mode := range []counter.Mode{counter.Coalesced, counter.Sharded} {
		for _, readOnRequest := range []bool{false, true} {
			name := mode.String()
			if readOnRequest {
				name += ", ReadOnRequest"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				f := newFixture(t)
				opts := counter.LimiterOptions{Algorithm: counter.FixedWindow, Mode: mode, ReadOnRequest: readOnRequest}
				opts.Instance = "a"
				a := f.limiter(t, 10, time.Minute, opts)
				opts.Instance, opts.Tick = "b", make(chan time.Time)
				b := f.limiter(t, 10, time.Minute, opts)
				assert.Equal(t, 6, allowMany(t, a, "k", 6))
				require.NoError(t, a.Flush(ctx))
				f.clock.Advance(time.Second)
				if readOnRequest {
					assert.Equal(t, 4, allowMany(t, b, "k", 10), "b reads a's synced count first")
				} else {
					// b decides its first request from its own counts,
					// and knows a's 6 after its next sync.
					assert.Equal(t, 1, allowMany(t, b, "k", 1))
					require.NoError(t, b.Flush(ctx))
					assert.Equal(t, 3, allowMany(t, b, "k", 10), "b sees a's synced count")
				}
				require.NoError(t, b.Flush(ctx))
				f.clock.Advance(time.Second)
				res, err := a.Allow(ctx, "k")
				require.NoError(t, err)
				if !readOnRequest {
					// a's count is over a second old: this request is
					// decided from it, and the next sync reads b's.
					assert.True(t, res.Allowed)
					require.NoError(t, a.Flush(ctx))
					res, err = a.Allow(ctx, "k")
					require.NoError(t, err)
				}
				assert.False(t, res.Allowed, "a sees b's count after a sync")
			})
		}
	}
}

func TestLimiterFailingBackendDecidesLocally(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	l := f.limiter(t, 2, time.Minute, counter.LimiterOptions{})
	f.calls.FailWith(errors.Join(kv.ErrUnavailable, errors.New("down")))
	res, err := l.Allow(ctx, "k")
	require.NoError(t, err, "a new key is decided locally before any sync")
	assert.True(t, res.Allowed)
	f.flushTick() // the sync fails: requests on keys it could not sync see the error
	for i, want := range []bool{true, false} {
		res, err := l.Allow(ctx, "k")
		assert.ErrorIs(t, err, kv.ErrUnavailable)
		assert.Equal(t, want, res.Allowed, "request %d", i)
	}
	res, err = l.Allow(ctx, "new")
	assert.ErrorIs(t, err, kv.ErrUnavailable, "a key never synced, after a failed sync")
	assert.True(t, res.Allowed)
	f.calls.FailWith(nil)
	f.clock.Advance(time.Second)
	require.NoError(t, l.Close(ctx))
	start := f.clock.Now().Truncate(time.Minute)
	it, found, err := f.mem.Get(ctx, "ratelimit:k:"+strconv.FormatInt(start.Unix(), 10), kv.GetOptions{})
	require.NoError(t, err)
	require.True(t, found, "local counts were kept and written once KV came back")
	assert.Equal(t, "2", string(it.Value))
}

func TestNewLimiterValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for name, tc := range map[string]struct {
		limit  int
		window time.Duration
		opts   counter.LimiterOptions
	}{
		"zero limit":        {0, time.Minute, counter.LimiterOptions{}},
		"sub-second window": {1, 500 * time.Millisecond, counter.LimiterOptions{}},
		"fractional window": {1, 1500 * time.Millisecond, counter.LimiterOptions{}},
		"direct mode":       {1, time.Minute, counter.LimiterOptions{Mode: counter.Direct}},
		"unknown algorithm": {1, time.Minute, counter.LimiterOptions{Algorithm: 7}},
		"sharded, no name":  {1, time.Minute, counter.LimiterOptions{Mode: counter.Sharded}},
		"negative timeout":  {1, time.Minute, counter.LimiterOptions{KVTimeout: -time.Second}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := counter.NewLimiter(f.mem, tc.limit, tc.window, tc.opts)
			assert.ErrorIs(t, err, kv.ErrInvalidOptions)
		})
	}
}

func TestWriteHeaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	l := f.limiter(t, 1, time.Minute, counter.LimiterOptions{Algorithm: counter.FixedWindow})
	f.clock.Advance(20 * time.Second)
	hs := counter.Headers{IETF: true}.WithDefaults()

	res, err := l.Allow(ctx, "k")
	require.NoError(t, err)
	h := http.Header{}
	l.WriteHeaders(h, res, hs)
	reset := strconv.FormatInt(kvtestEpochPlus(time.Minute).Unix(), 10)
	assert.Equal(t, http.Header{
		"X-Ratelimit-Limit":     {"1"},
		"X-Ratelimit-Remaining": {"0"},
		"X-Ratelimit-Reset":     {reset},
		"Ratelimit-Policy":      {`"default";q=1;w=60`},
		"Ratelimit":             {`"default";r=0;t=40`},
	}, h)

	res, err = l.Allow(ctx, "k")
	require.NoError(t, err)
	h = http.Header{}
	l.WriteHeaders(h, res, counter.Headers{Remaining: "-", RetryAfter: "x-wait"}.WithDefaults())
	assert.Equal(t, http.Header{
		"X-Ratelimit-Limit": {"1"},
		"X-Ratelimit-Reset": {reset},
		"X-Wait":            {"40"},
	}, h)
}

func TestLimiterKVCallsOverTwoWindows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		single             bool
		maxGets, maxBulkGs int64
	}{
		// No read waits on a request: each flush reads before it
		// writes, the previous window's count in the same bulk read
		// until it settles.
		{"shared", false, 0, 120},
		// The only writer: windows that started after the limiter hold
		// only its counts; one bulk read for the window before the first.
		{"single writer", true, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			l := f.limiter(t, 1<<20, time.Minute, counter.LimiterOptions{SingleWriter: tc.single})
			for range 240 { // two minutes, a request and a tick every 500 ms
				res, err := l.Allow(ctx, "k")
				require.NoError(t, err)
				require.True(t, res.Allowed)
				f.flushTick()
				f.clock.Advance(500 * time.Millisecond)
			}
			n := f.calls.Counts()
			t.Logf("%s: 240 requests over 2 one-minute windows, one key: %d gets, %d bulk gets, %d bulk puts",
				tc.name, n.Get, n.BulkGet, n.BulkPut)
			assert.LessOrEqual(t, n.Get, tc.maxGets)
			assert.LessOrEqual(t, n.BulkGet, tc.maxBulkGs)
			assert.LessOrEqual(t, n.BulkPut, int64(120), "at most one write per second")
			f.clock.Advance(time.Second)     // Close writes what is pending at once
			require.NoError(t, l.Close(ctx)) // the flusher is done: the record is stable
			for key, ts := range f.rec.writes {
				for i := 1; i < len(ts); i++ {
					assert.GreaterOrEqual(t, ts[i].Sub(ts[i-1]), time.Second, key)
				}
			}
			res, err := l.Allow(ctx, "k")
			assert.ErrorIs(t, err, counter.ErrClosed)
			assert.True(t, res.Allowed)
		})
	}
}

func TestClosedLimiterLetsRequestsThrough(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	l := f.limiter(t, 1, time.Minute, counter.LimiterOptions{})
	require.NoError(t, l.Close(ctx))
	for range 2 {
		res, err := l.Allow(ctx, "k")
		assert.ErrorIs(t, err, counter.ErrClosed)
		assert.True(t, res.Allowed)
	}
}

func TestLimiterKeyTooLong(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	l := f.limiter(t, 1, time.Minute, counter.LimiterOptions{})
	_, err := l.Allow(context.Background(), strings.Repeat("k", kv.MaxKeySize))
	assert.ErrorIs(t, err, kv.ErrInvalidKey)
	assert.Zero(t, f.calls.Counts().Total(), "refused before any KV call")
}

// A decision on a known key allocates once: the two window names, made in
// one concatenation. (The allow closure once escaped through a time.Time
// deadline in addOptions: two more allocations per request.)
func TestLimiterAllowAllocatesOnce(t *testing.T) {
	for _, readOnRequest := range []bool{false, true} {
		f := newFixture(t)
		l := f.limiter(t, 1<<30, time.Minute, counter.LimiterOptions{ReadOnRequest: readOnRequest})
		ctx := context.Background()
		_, err := l.Allow(ctx, "203.0.113.7")
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := l.Allow(ctx, "203.0.113.7"); err != nil {
				t.Fatal(err)
			}
		})
		assert.LessOrEqual(t, allocs, 1.0, "ReadOnRequest %v", readOnRequest)
	}
}
