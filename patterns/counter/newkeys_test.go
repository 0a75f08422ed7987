package counter_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/patterns/counter"
)

// TestLimiterKVCallsFor2000NewClients is the figure: 2,000 clients
// each make their first request within one sync interval. No request waits
// for KV; the next sync reads the new keys' current and previous windows in
// bulk (100 keys a call) and writes their counts in one bulk write. With
// SingleWriter, in windows that started after the limiter, an unseen key is
// known to be 0 and nothing is read.
func TestLimiterKVCallsFor2000NewClients(t *testing.T) {
	t.Parallel()
	const clients = 2000
	for _, tc := range []struct {
		name      string
		opts      counter.LimiterOptions
		advance   time.Duration // before the clients arrive
		maxReads  int64
		maxWrites int64
	}{
		{name: "shared (default)", maxReads: 2 * clients / kv.MaxBulkGet, maxWrites: 1},
		{name: "single writer, windows started after the limiter", opts: counter.LimiterOptions{SingleWriter: true},
			advance: time.Minute, maxReads: 0, maxWrites: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			l := f.limiter(t, 10, time.Minute, tc.opts)
			f.clock.Advance(tc.advance)
			for i := range clients {
				res, err := l.Allow(ctx, "client-"+strconv.Itoa(i))
				require.NoError(t, err)
				require.True(t, res.Allowed)
				if i%4 == 3 {
					f.clock.Advance(time.Millisecond) // 2,000 clients in half a second
				}
			}
			onRequests := f.calls.Counts()
			f.flushTick()
			n := f.calls.Counts()
			t.Logf("%s: 2,000 new clients: %d KV calls on the request path; then %d reads (get %d, bulk get %d) and %d writes (bulk put %d) at the next sync",
				tc.name, onRequests.Total(), n.Reads(), n.Get, n.BulkGet, n.Writes(), n.BulkPut)
			assert.Zero(t, onRequests.Total(), "no request waits for KV")
			assert.LessOrEqual(t, n.Reads(), tc.maxReads)
			assert.LessOrEqual(t, n.Writes(), tc.maxWrites)
			got, found := f.stored(t, "ratelimit:client-1999:"+strconv.FormatInt(f.clock.Now().Truncate(time.Minute).Unix(), 10))
			assert.True(t, found)
			assert.Equal(t, "1", got)
		})
	}
}

// TestLimiterNewKeySeesOtherProcessesAfterOneSync: a key new to this process
// is decided from its own counts until the next sync, which reads what other
// processes stored: here b lets 6 requests through where 4 were left, then
// refuses once synced (the accuracy trade-off of deferred reads, bounded by
// the limit per process and per sync). With ReadOnRequest the first request
// waits for the stored count and b lets exactly 4 through. Nothing counted
// is lost either way.
func TestLimiterNewKeySeesOtherProcessesAfterOneSync(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		readOnRequest bool
		allowed       int    // of b's first 6 requests
		stored        string // after b's sync
	}{
		{"deferred reads (default)", false, 6, "12"},
		{"ReadOnRequest", true, 4, "10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			key := "ratelimit:k:" + strconv.FormatInt(f.clock.Now().Unix(), 10)
			// Another process has counted 6 of 10 and synced them.
			require.NoError(t, f.mem.Put(ctx, key, []byte("6"), kv.PutOptions{}))
			b := f.limiter(t, 10, time.Minute, counter.LimiterOptions{Algorithm: counter.FixedWindow, ReadOnRequest: tc.readOnRequest})
			passed := 0
			for range 6 {
				res, err := b.Allow(ctx, "k")
				require.NoError(t, err)
				if res.Allowed {
					passed++
				}
			}
			assert.Equal(t, tc.allowed, passed)
			f.flushTick()
			got, _ := f.stored(t, key)
			assert.Equal(t, tc.stored, got, "the other's 6 and b's own: nothing lost")
			res, err := b.Allow(ctx, "k")
			require.NoError(t, err)
			assert.False(t, res.Allowed, "synced: b knows the other's 6")
		})
	}
}

// hangingNS is a KV that hangs: every call blocks until its context is done
// (or a second passes, so that code that waits without a deadline fails the
// test instead of hanging it), then fails.
type hangingNS struct {
	kv.Namespace
	mu        sync.Mutex
	calls     int
	deadlines []time.Time // each call's context deadline; zero without one
}

func (h *hangingNS) wait(ctx context.Context) error {
	h.mu.Lock()
	h.calls++
	d, _ := ctx.Deadline()
	h.deadlines = append(h.deadlines, d)
	h.mu.Unlock()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return &kv.Error{Op: "test", Err: ctx.Err()}
	case <-t.C:
		return &kv.Error{Op: "test", Err: errors.Join(kv.ErrUnavailable, errors.New("hanging KV gave up"))}
	}
}

func (h *hangingNS) Get(ctx context.Context, key string, _ kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	return kv.Entry[[]byte]{}, false, h.wait(ctx)
}

func (h *hangingNS) Put(ctx context.Context, key string, _ []byte, _ kv.PutOptions) error {
	return h.wait(ctx)
}

func (h *hangingNS) List(ctx context.Context, _ kv.ListOptions) (kv.Page, error) {
	return kv.Page{}, h.wait(ctx)
}

func (h *hangingNS) snapshot() (int, []time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls, append([]time.Time(nil), h.deadlines...)
}

// TestLimiterDecidesPromptlyWhenKVHangs: under a KV outage that makes
// calls hang (429 or 5xx with retries, dropped connections), requests are
// decided without waiting: by default Allow makes no KV call at all; with
// ReadOnRequest a request's reads share one deadline KVTimeout away, and a
// failed read is not retried for a sync interval.
func TestLimiterDecidesPromptlyWhenKVHangs(t *testing.T) {
	t.Parallel()
	const kvTimeout = 20 * time.Millisecond
	for _, tc := range []struct {
		name          string
		readOnRequest bool
		wantCalls     int // on the request path
	}{
		{"deferred reads (default)", false, 0},
		{"ReadOnRequest", true, 2}, // the first request's two windows, then none while backing off
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			ns := &hangingNS{Namespace: f.mem}
			l, err := counter.NewLimiter(ns, 3, time.Minute, counter.LimiterOptions{
				Clock: f.clock.Now, Tick: make(chan time.Time), ReadOnRequest: tc.readOnRequest, KVTimeout: kvTimeout,
				Logger: slog.New(slog.DiscardHandler),
			})
			require.NoError(t, err)
			var statuses []bool
			start := time.Now()
			var firstDone time.Time
			for range 5 {
				res, err := l.Allow(ctx, "k")
				if firstDone.IsZero() {
					firstDone = time.Now()
				}
				if tc.readOnRequest && len(statuses) == 0 {
					assert.ErrorIs(t, err, context.DeadlineExceeded, "the first request reports the timeout")
				}
				statuses = append(statuses, res.Allowed)
			}
			assert.Equal(t, []bool{true, true, true, false, false}, statuses, "decided from local counts")
			calls, deadlines := ns.snapshot()
			assert.Equal(t, tc.wantCalls, calls, "KV calls made by requests")
			for _, d := range deadlines {
				require.False(t, d.IsZero(), "every call has a deadline")
				assert.Equal(t, deadlines[0], d, "one deadline for the request's reads")
				// Set to KVTimeout from the moment the first request
				// began, which is between start and its return.
				set := d.Add(-kvTimeout)
				assert.False(t, set.Before(start) || set.After(firstDone), "deadline %v is KVTimeout after the request began", d)
			}
			// Close writes what is pending under its own context: give it
			// one that ends at once, the hanging KV would not answer.
			cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
			defer cancel()
			assert.Error(t, l.Close(cctx))
		})
	}
}
