package counter_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/counter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is a memory namespace behind a call counter and a write recorder,
// a manual clock, and the tick channel that drives a Counter's flusher.
type fixture struct {
	clock *kvtest.Clock
	mem   *memory.Namespace
	calls *kvtest.CountingBulk
	rec   *writeRecorder
	tick  chan time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clock := kvtest.NewClock()
	mem := memory.New(memory.Options{Clock: clock.Now})
	calls := kvtest.NewCountingBulk(mem)
	rec := &writeRecorder{CountingBulk: calls, clock: clock, writes: map[string][]time.Time{}}
	return &fixture{clock: clock, mem: mem, calls: calls, rec: rec, tick: make(chan time.Time)}
}

func (f *fixture) counter(t *testing.T, opts counter.Options) *counter.Counter {
	t.Helper()
	opts.Clock = f.clock.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Tick == nil {
		opts.Tick = f.tick
	}
	c, err := counter.New(f.rec, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// flushTick drives one background flush and waits until it has finished:
// the flusher receives ticks one at a time, so the zero-time barrier is
// received only after the flush is done, and it flushes nothing itself.
func (f *fixture) flushTick() {
	f.tick <- f.clock.Now()
	f.tick <- time.Time{} // a barrier: received once the flush has ended
}

func (f *fixture) stored(t *testing.T, key string) (string, bool) {
	t.Helper()
	it, found, err := f.mem.Get(context.Background(), key, kv.GetOptions{})
	require.NoError(t, err)
	return string(it.Value), found
}

// writeRecorder records when each key is written (by the fixture's clock).
type writeRecorder struct {
	*kvtest.CountingBulk
	clock  *kvtest.Clock
	mu     sync.Mutex
	writes map[string][]time.Time
}

func (w *writeRecorder) note(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes[key] = append(w.writes[key], w.clock.Now())
}

func (w *writeRecorder) Put(ctx context.Context, key string, v []byte, o kv.PutOptions) error {
	w.note(key)
	return w.CountingBulk.Put(ctx, key, v, o)
}

func (w *writeRecorder) PutBulk(ctx context.Context, entries []kv.Pair) error {
	for _, e := range entries {
		w.note(e.Key)
	}
	return w.CountingBulk.PutBulk(ctx, entries)
}

func (w *writeRecorder) times(key string) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.writes[key]...)
}

func TestTextInteropWithWorkerRecipe(t *testing.T) {
	t.Parallel()
	for _, mode := range []counter.Mode{counter.Coalesced, counter.Direct} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			// What a Worker's recipe stores: String(41).
			require.NoError(t, f.mem.Put(ctx, "count:visits", []byte("41"), kv.PutOptions{}))
			c := f.counter(t, counter.Options{Mode: mode})

			n, err := c.Increment(ctx, "visits", 1)
			require.NoError(t, err)
			assert.Equal(t, int64(42), n)
			require.NoError(t, c.Flush(ctx))
			got, found := f.stored(t, "count:visits")
			require.True(t, found)
			assert.Equal(t, "42", got, "the recipe reads parseInt(text)")

			// A Worker writes again; Go reads it after the interval.
			require.NoError(t, f.mem.Put(ctx, "count:visits", []byte("100"), kv.PutOptions{}))
			f.clock.Advance(time.Second)
			n, err = c.Get(ctx, "visits")
			require.NoError(t, err)
			assert.Equal(t, int64(100), n)
		})
	}
}

func TestCoalescingTenThousandIncrementsOneWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	c := f.counter(t, counter.Options{})

	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for range 1000 {
				_, err := c.Increment(ctx, "hits", 1)
				assert.NoError(t, err, "goroutine %d", g)
			}
		})
	}
	wg.Wait()
	n, err := c.Get(ctx, "hits")
	require.NoError(t, err)
	assert.Equal(t, int64(10000), n)
	assert.Zero(t, f.calls.Counts().Writes(), "nothing written before the flush")

	f.flushTick()
	counts := f.calls.Counts()
	assert.Equal(t, int64(1), counts.Writes(), "one write for 10,000 increments")
	assert.Equal(t, int64(1), counts.Reads(), "one read: the first increment's")
	got, _ := f.stored(t, "count:hits")
	assert.Equal(t, "10000", got)
}

func TestThousandIncrementsOverTenKeysKVCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wrap func(*memory.Namespace) (kv.Namespace, func() kvtest.Counts)
	}{
		{"bulk endpoints (REST)", func(m *memory.Namespace) (kv.Namespace, func() kvtest.Counts) {
			c := kvtest.NewCountingBulk(m)
			return c, c.Counts
		}},
		{"single calls only", func(m *memory.Namespace) (kv.Namespace, func() kvtest.Counts) {
			c := kvtest.NewCounting(m)
			return c, c.Counts
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := kvtest.NewClock()
			mem := memory.New(memory.Options{Clock: clock.Now})
			ns, counts := tc.wrap(mem)
			tick := make(chan time.Time)
			c, err := counter.New(ns, counter.Options{Clock: clock.Now, Tick: tick})
			require.NoError(t, err)
			defer func() { require.NoError(t, c.Close(ctx)) }()
			for i := range 1000 {
				_, err := c.Increment(ctx, "k"+strconv.Itoa(i%10), 1)
				require.NoError(t, err)
			}
			tick <- clock.Now()
			tick <- time.Time{} // returns once the flush is done
			n := counts()
			t.Logf("%s: 1,000 increments over 10 keys, one interval: %d reads (get %d, bulk get %d), %d writes (put %d, bulk put %d)",
				tc.name, n.Reads(), n.Get, n.BulkGet, n.Writes(), n.Put, n.BulkPut)
			assert.LessOrEqual(t, n.Reads(), int64(10))
			assert.LessOrEqual(t, n.Writes(), int64(10))
			for i := range 10 {
				it, _, err := mem.Get(ctx, "count:k"+strconv.Itoa(i), kv.GetOptions{})
				require.NoError(t, err)
				assert.Equal(t, "100", string(it.Value))
			}
		})
	}
}

func TestFlushAndCloseLoseNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	c := f.counter(t, counter.Options{})

	_, err := c.Increment(ctx, "a", 5)
	require.NoError(t, err)
	require.NoError(t, c.Flush(ctx))
	got, _ := f.stored(t, "count:a")
	assert.Equal(t, "5", got)

	// Within the same second: Flush still writes (it is explicit), Close too.
	_, err = c.Increment(ctx, "a", 2)
	require.NoError(t, err)
	_, err = c.Increment(ctx, "b", -3)
	require.NoError(t, err)
	require.NoError(t, c.Close(ctx))
	got, _ = f.stored(t, "count:a")
	assert.Equal(t, "7", got)
	got, _ = f.stored(t, "count:b")
	assert.Equal(t, "-3", got)

	_, err = c.Increment(ctx, "a", 1)
	assert.ErrorIs(t, err, counter.ErrClosed)
	assert.NoError(t, c.Close(ctx), "Close twice is fine")
}

func TestFailingBackendKeepsDeltas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	c := f.counter(t, counter.Options{})
	_, err := c.Increment(ctx, "a", 3)
	require.NoError(t, err)

	down := errors.Join(kv.ErrUnavailable, errors.New("503"))
	f.calls.FailWith(down)
	assert.ErrorIs(t, c.Flush(ctx), kv.ErrUnavailable)
	n, err := c.Increment(ctx, "a", 4)
	require.NoError(t, err, "a known counter needs no read")
	assert.Equal(t, int64(7), n)

	// A counter never read: the read fails, the delta is still kept.
	n, err = c.Increment(ctx, "b", 2)
	assert.ErrorIs(t, err, kv.ErrUnavailable)
	assert.Equal(t, int64(2), n)
	before := f.calls.Counts().Reads()
	_, err = c.Increment(ctx, "b", 1)
	assert.ErrorIs(t, err, kv.ErrUnavailable)
	assert.Equal(t, before, f.calls.Counts().Reads(), "no new read while backing off")

	f.clock.Advance(time.Second)
	f.flushTick()
	assert.Equal(t, "", func() string { s, _ := f.stored(t, "count:a"); return s }(), "still down: nothing written")

	f.calls.FailWith(nil)
	f.clock.Advance(time.Second)
	f.flushTick()
	got, _ := f.stored(t, "count:a")
	assert.Equal(t, "7", got)
	got, _ = f.stored(t, "count:b")
	assert.Equal(t, "3", got)
}

func TestFlusherNeverWritesOneKeyTwiceWithinASecond(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	c := f.counter(t, counter.Options{})
	for step := range 40 { // 10 s in steps of 250 ms, a tick at each
		_, err := c.Increment(ctx, "busy", 1)
		require.NoError(t, err)
		if step%3 == 0 {
			_, err = c.Increment(ctx, "sometimes", 1)
			require.NoError(t, err)
		}
		f.flushTick()
		f.clock.Advance(250 * time.Millisecond)
	}
	for _, key := range []string{"count:busy", "count:sometimes"} {
		ts := f.rec.times(key)
		require.GreaterOrEqual(t, len(ts), 5, key)
		for i := 1; i < len(ts); i++ {
			assert.GreaterOrEqual(t, ts[i].Sub(ts[i-1]), time.Second, "%s writes %d and %d", key, i-1, i)
		}
		t.Logf("%s: %d writes in 10 s", key, len(ts))
	}
	got, _ := f.stored(t, "count:busy")
	assert.NotEqual(t, "40", got, "the last increments are still pending")
	require.NoError(t, c.Close(ctx))
	got, _ = f.stored(t, "count:busy")
	assert.Equal(t, "40", got)
}

func TestShardedInstancesLoseNoCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	a := f.counter(t, counter.Options{Mode: counter.Sharded, Instance: "a"})
	b := f.counter(t, counter.Options{Mode: counter.Sharded, Instance: "b", Tick: make(chan time.Time)})
	// A Worker using the recipe on the plain key is summed too.
	require.NoError(t, f.mem.Put(ctx, "count:views", []byte("7"), kv.PutOptions{}))
	// A different counter whose name extends this one is not.
	require.NoError(t, f.mem.Put(ctx, "count:views:x:y", []byte("1000"), kv.PutOptions{}))

	for round := range 5 {
		var wg sync.WaitGroup
		for _, c := range []*counter.Counter{a, b} {
			wg.Go(func() {
				for range 100 {
					_, err := c.Increment(ctx, "views", 1)
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		require.NoError(t, a.Flush(ctx), "round %d", round)
		require.NoError(t, b.Flush(ctx), "round %d", round)
		f.clock.Advance(time.Second)
	}
	got, _ := f.stored(t, "count:views:a")
	assert.Equal(t, "500", got)
	got, _ = f.stored(t, "count:views:b")
	assert.Equal(t, "500", got)

	f.calls.Reset()
	for _, c := range []*counter.Counter{a, b} {
		n, err := c.Get(ctx, "views")
		require.NoError(t, err)
		assert.Equal(t, int64(1007), n)
	}
	assert.Equal(t, int64(2), f.calls.Counts().List, "one listing per reader")
	assert.Equal(t, int64(2), f.calls.Counts().BulkGet, "one bulk read per reader, for the Worker's key without metadata")
	assert.Zero(t, f.calls.Counts().Get)

	_, err := a.Increment(ctx, "views", 1)
	require.NoError(t, err)
	n, err := a.Get(ctx, "views")
	require.NoError(t, err)
	assert.Equal(t, int64(1008), n, "own pending counts at once, the sum stays cached")

	require.NoError(t, a.Reset(ctx, "views"))
	f.clock.Advance(time.Second)
	n, err = b.Get(ctx, "views")
	require.NoError(t, err)
	assert.Equal(t, int64(0), n)
	got, found := f.stored(t, "count:views:x:y")
	assert.True(t, found, "another counter's key survives the reset")
	assert.Equal(t, "1000", got)
}

func TestReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, mode := range []counter.Mode{counter.Coalesced, counter.Direct} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			c := f.counter(t, counter.Options{Mode: mode})
			_, err := c.Increment(ctx, "r", 9)
			require.NoError(t, err)
			require.NoError(t, c.Flush(ctx))
			_, err = c.Increment(ctx, "r", 1)
			require.NoError(t, err)
			require.NoError(t, c.Reset(ctx, "r"))
			n, err := c.Get(ctx, "r")
			require.NoError(t, err)
			assert.Equal(t, int64(0), n)
			require.NoError(t, c.Flush(ctx))
			_, found := f.stored(t, "count:r")
			assert.False(t, found, "a reset counter is deleted, and its pending delta dropped")
		})
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	ns := memory.New(memory.Options{})
	bad := []struct {
		name string
		ns   kv.Namespace
		opts counter.Options
	}{
		{"nil namespace", nil, counter.Options{}},
		{"interval under a second", ns, counter.Options{FlushInterval: 500 * time.Millisecond}},
		{"sharded without instance", ns, counter.Options{Mode: counter.Sharded}},
		{"instance with colon", ns, counter.Options{Mode: counter.Sharded, Instance: "a:b"}},
		{"unknown mode", ns, counter.Options{Mode: 9}},
		{"TTL under a minute", ns, counter.Options{TTL: 30 * time.Second}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := counter.New(tc.ns, tc.opts)
			assert.ErrorIs(t, err, kv.ErrInvalidOptions)
		})
	}

	t.Run("bad name costs no call", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		c := f.counter(t, counter.Options{})
		_, err := c.Increment(context.Background(), strings.Repeat("x", 600), 1)
		assert.ErrorIs(t, err, kv.ErrInvalidKey)
		_, err = c.Get(context.Background(), "")
		assert.NoError(t, err, `"count:" is a valid key`)
		f.calls.Reset()
		_, err = c.Increment(context.Background(), strings.Repeat("x", kv.MaxKeySize), 1)
		assert.ErrorIs(t, err, kv.ErrInvalidKey)
		// Short enough, but not UTF-8: no KV key can hold it.
		_, err = c.Increment(context.Background(), "caf\xc3", 1)
		assert.ErrorIs(t, err, kv.ErrInvalidKey)
		_, err = c.Get(context.Background(), "caf\xc3")
		assert.ErrorIs(t, err, kv.ErrInvalidKey)
		assert.Zero(t, f.calls.Counts().Total())
		require.NoError(t, c.Flush(context.Background()))
		assert.Zero(t, f.calls.Counts().Writes(), "nothing half-written")
	})
}

func TestCounterTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	c := f.counter(t, counter.Options{TTL: 2 * time.Minute})
	_, err := c.Increment(ctx, "t", 1)
	require.NoError(t, err)
	require.NoError(t, c.Flush(ctx))
	it, found, err := f.mem.Get(ctx, "count:t", kv.GetOptions{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, f.clock.Now().Add(2*time.Minute).Unix(), it.Expiration.Unix())
}

func TestFlushReadsBeforeWritingUnlessSingleWriter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		single    bool
		wantReads int64
		want      string
	}{
		// Each flush after the first reads again: the other writer's 100 is kept.
		{"shared key", false, 1 + 4, "105"},
		// The only writer never reads again and overwrites the other's 100.
		{"single writer", true, 1, "5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			c := f.counter(t, counter.Options{SingleWriter: tc.single})
			for round := range 5 {
				_, err := c.Increment(ctx, "x", 1)
				require.NoError(t, err)
				f.flushTick()
				if round == 2 { // another process adds 100 meanwhile
					require.NoError(t, f.mem.Put(ctx, "count:x", []byte("103"), kv.PutOptions{}))
				}
				f.clock.Advance(time.Second)
			}
			n := f.calls.Counts()
			assert.Equal(t, tc.wantReads, n.Reads())
			assert.Equal(t, int64(5), n.Writes())
			got, _ := f.stored(t, "count:x")
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDirectModeIsTheRecipe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	c := f.counter(t, counter.Options{Mode: counter.Direct})
	for i := range 3 {
		n, err := c.Increment(ctx, "d", 1)
		require.NoError(t, err)
		assert.Equal(t, int64(i+1), n)
	}
	n := f.calls.Counts()
	assert.Equal(t, int64(3), n.Get, "one read per increment")
	assert.Equal(t, int64(3), n.Put, "one write per increment")
	got, _ := f.stored(t, "count:d")
	assert.Equal(t, "3", got, "written at once, nothing pending")
}

// TestLostWriteAnswerIsNotCountedTwice: KV applied a flush's write but the
// answer was lost. The retry, even after the re-read interval, writes the
// same absolute value (plus what was counted since) instead of reading the
// landed value and adding the same delta again (10 increments stored as 20).
// A write KV refused (429) was not applied: the next flush reads again and
// keeps another writer's update.
func TestLostWriteAnswerIsNotCountedTwice(t *testing.T) {
	t.Parallel()
	unavailable := errors.Join(kv.ErrUnavailable, errors.New("connection reset after the request was sent"))
	for _, tc := range []struct {
		name   string
		mode   counter.Mode
		lost   error // the write lands, then fails with this
		refuse error // the write is refused with this
		other  bool  // another process writes 100 + what it read meanwhile
		unread bool  // the first read failed: the flush reads the key before writing
		want   string
	}{
		{name: "transport error after the write", lost: unavailable, want: "15"},
		{name: "timeout after the write", lost: context.DeadlineExceeded, want: "15"},
		{name: "5xx after the write, another writer meanwhile", lost: errors.Join(kv.ErrUnavailable, errors.New("HTTP 502")), other: true, want: "15"},
		{name: "a key the flush read first", lost: unavailable, unread: true, want: "15"},
		{name: "sharded", mode: counter.Sharded, lost: unavailable, want: "15"},
		{name: "429 refused: read again, keep the other's 100", refuse: errors.Join(kv.ErrRateLimited, errors.New("HTTP 429")), other: true, want: "115"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			c := f.counter(t, counter.Options{Mode: tc.mode, Instance: "a"})
			key := "count:x"
			if tc.mode == counter.Sharded {
				key = "count:x:a"
			}
			if tc.unread {
				f.calls.FailWith(unavailable)
			}
			for range 10 {
				_, err := c.Increment(ctx, "x", 1)
				if !tc.unread {
					require.NoError(t, err)
				}
			}
			f.calls.FailAfterWrite(tc.lost)
			f.calls.FailWith(tc.refuse)
			assert.Error(t, c.Flush(ctx))
			f.calls.FailAfterWrite(nil)
			f.calls.FailWith(nil)
			got, _ := f.stored(t, key)
			if tc.refuse == nil {
				require.Equal(t, "10", got, "the write landed")
			} else {
				require.Empty(t, got, "the write was refused")
			}
			if tc.other {
				require.NoError(t, f.mem.Put(ctx, key, []byte(strconv.Itoa(100+atoiOr0(got))), kv.PutOptions{}))
			}
			for range 5 {
				_, err := c.Increment(ctx, "x", 1)
				require.NoError(t, err)
			}
			f.clock.Advance(3 * time.Second) // well past the re-read interval
			f.flushTick()
			got, _ = f.stored(t, key)
			assert.Equal(t, tc.want, got)
			n, err := c.Get(ctx, "x")
			require.NoError(t, err)
			if tc.mode != counter.Sharded {
				assert.Equal(t, tc.want, strconv.FormatInt(n, 10), "the process agrees with KV")
			}
		})
	}
}

func atoiOr0(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Increments racing with flushes that write the counters and evict the
// idle ones: every increment lands once, in KV after Close. Key k is
// incremented in the rounds r with (k+r)%3 == 0: between them it is
// written, then clean and idle, so the flush of the round it is incremented
// in may evict it under the workers' feet.
func TestIncrementsRacingEvictionLoseNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	c := f.counter(t, counter.Options{})
	const workers, rounds, keys, each = 4, 30, 9, 20
	name := func(k int) string { return "k" + strconv.Itoa(k) }
	want := 0
	for r := range rounds {
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					for k := range keys {
						if (k+r)%3 == 0 {
							_, err := c.Increment(ctx, name(k), 1)
							assert.NoError(t, err)
						}
					}
				}
			}()
		}
		want += workers * each * keys / 3
		f.clock.Advance(3 * time.Minute) // past KeepIdle
		f.flushTick()
		wg.Wait()
	}
	require.NoError(t, c.Close(ctx))
	got := 0
	for k := range keys {
		s, _ := f.stored(t, "count:"+name(k))
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		got += n
	}
	assert.Equal(t, want, got)
	assert.Greater(t, f.calls.Counts().Reads(), int64(keys), "evicted keys were read again")
}
