package cloudflare_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	cfkv "github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/cloudflare"
	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/kv/kvtest"
)

// sleepRecorder replaces Options.Sleep: it records each wait and returns at
// once, so tests check the waits without spending them.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleepRecorder) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

func recorded(opts cloudflare.Options) (cloudflare.Options, *sleepRecorder) {
	rec := &sleepRecorder{}
	opts.Sleep = rec.Sleep
	return opts, rec
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("429 with Retry-After", func(t *testing.T) {
		t.Parallel()
		opts, rec := recorded(cloudflare.Options{BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
		ns, srv := newBackend(t, time.Now, opts)
		require.NoError(t, ns.Put(ctx, "k", []byte("v"), kv.PutOptions{}))
		srv.Inject(kvserver.RouteGetValue,
			kvserver.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second},
			kvserver.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
		ns.ResetRequests()

		it, found, err := ns.Get(ctx, "k", kv.GetOptions{})
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, "v", string(it.Value))
		assert.Equal(t, 3, srv.Hits(kvserver.RouteGetValue), "two 429s then success: three attempts")
		assert.Equal(t, cloudflare.Requests{Get: 3, Retries: 2}, ns.Requests(), "every attempt is counted")
		assert.Equal(t, []time.Duration{2 * time.Second, time.Second}, rec.Waits(), "Retry-After is honoured")
	})

	t.Run("503 with backoff", func(t *testing.T) {
		t.Parallel()
		opts, rec := recorded(cloudflare.Options{BaseBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond})
		ns, srv := newBackend(t, time.Now, opts)
		srv.Inject(kvserver.RoutePutValue,
			kvserver.Fault{Status: http.StatusServiceUnavailable},
			kvserver.Fault{Status: http.StatusServiceUnavailable},
			kvserver.Fault{Status: http.StatusInternalServerError})

		require.NoError(t, ns.Put(ctx, "k", []byte("v"), kv.PutOptions{}))
		assert.Equal(t, 4, srv.Hits(kvserver.RoutePutValue))
		assert.Equal(t, int64(4), ns.Requests().Put)
		waits := rec.Waits()
		require.Len(t, waits, 3)
		// Exponential with equal jitter: [d/2, d] for d = 100ms, 200ms, 300ms (capped).
		for i, max := range []time.Duration{100, 200, 300} {
			max *= time.Millisecond
			assert.GreaterOrEqual(t, waits[i], max/2, "wait %d", i)
			assert.LessOrEqual(t, waits[i], max, "wait %d", i)
		}
		mem, _ := srv.Namespace(srv.NamespaceID)
		assert.Equal(t, 1, mem.Len())
	})

	t.Run("gives up at the attempt cap", func(t *testing.T) {
		t.Parallel()
		opts, rec := recorded(cloudflare.Options{MaxAttempts: 3, BaseBackoff: time.Millisecond})
		ns, srv := newBackend(t, time.Now, opts)
		for range 5 {
			srv.Inject(kvserver.RouteGetValue, kvserver.Fault{Status: http.StatusServiceUnavailable})
		}
		_, _, err := ns.Get(ctx, "k", kv.GetOptions{})
		require.ErrorIs(t, err, kv.ErrUnavailable)
		var ke *kv.Error
		require.ErrorAs(t, err, &ke)
		assert.Equal(t, "get", ke.Op)
		assert.Equal(t, "k", ke.Key)
		var ae *cloudflare.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, http.StatusServiceUnavailable, ae.Status)
		var sdkErr interface{ DumpResponse(bool) []byte }
		require.ErrorAs(t, err, &sdkErr, "the SDK's own error stays reachable")
		assert.Contains(t, string(sdkErr.DumpResponse(false)), "503")
		assert.Equal(t, 3, ae.Attempts)
		assert.Equal(t, 3, srv.Hits(kvserver.RouteGetValue))
		assert.Len(t, rec.Waits(), 2)
	})

	t.Run("gives up when Retry-After exceeds the cap", func(t *testing.T) {
		t.Parallel()
		opts, rec := recorded(cloudflare.Options{MaxRetryAfter: 10 * time.Second})
		ns, srv := newBackend(t, time.Now, opts)
		srv.Inject(kvserver.RouteGetValue, kvserver.Fault{Status: http.StatusTooManyRequests, RetryAfter: 5 * time.Minute})
		_, _, err := ns.Get(ctx, "k", kv.GetOptions{})
		require.ErrorIs(t, err, kv.ErrRateLimited)
		wait, ok := cloudflare.RetryAfter(err)
		require.True(t, ok)
		assert.Equal(t, 5*time.Minute, wait)
		assert.Equal(t, 1, srv.Hits(kvserver.RouteGetValue), "no request spent on a certain 429")
		assert.Empty(t, rec.Waits(), "no sleeping")
	})

	t.Run("gives up at the context deadline", func(t *testing.T) {
		t.Parallel()
		opts, rec := recorded(cloudflare.Options{})
		ns, srv := newBackend(t, time.Now, opts)
		srv.Inject(kvserver.RouteGetValue, kvserver.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second})
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, _, err := ns.Get(dctx, "k", kv.GetOptions{})
		require.ErrorIs(t, err, kv.ErrRateLimited)
		assert.NoError(t, dctx.Err(), "returned before the deadline, not at it")
		assert.Equal(t, 1, srv.Hits(kvserver.RouteGetValue))
		assert.Empty(t, rec.Waits(), "a wait past the deadline is not started")
	})

	t.Run("slow response hits the deadline", func(t *testing.T) {
		t.Parallel()
		ns, srv := newBackend(t, time.Now, fastRetries)
		srv.Inject(kvserver.RouteGetValue, kvserver.Fault{Delay: time.Minute})
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, _, err := ns.Get(dctx, "k", kv.GetOptions{})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 1, srv.Hits(kvserver.RouteGetValue))
	})

	t.Run("dropped connection is retried", func(t *testing.T) {
		t.Parallel()
		ns, srv := newBackend(t, time.Now, fastRetries)
		require.NoError(t, ns.Put(ctx, "k", []byte("v"), kv.PutOptions{}))
		srv.Inject(kvserver.RouteGetValue, kvserver.Fault{Drop: true})
		it, found, err := ns.Get(ctx, "k", kv.GetOptions{})
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, "v", string(it.Value))
		assert.Equal(t, 2, srv.Hits(kvserver.RouteGetValue))
		assert.Equal(t, int64(2), ns.Requests().Get, "a request net/http replays is counted too")

		srv.Inject(kvserver.RouteDeleteValue, kvserver.Fault{Drop: true}, kvserver.Fault{Drop: true},
			kvserver.Fault{Drop: true}, kvserver.Fault{Drop: true})
		err = ns.Delete(ctx, "k")
		require.ErrorIs(t, err, kv.ErrUnavailable, "transport errors are unavailable")
		assert.Equal(t, 4, srv.Hits(kvserver.RouteDeleteValue), "default: four attempts")
		assert.Equal(t, int64(4), ns.Requests().Delete)
	})

	t.Run("client errors are not retried", func(t *testing.T) {
		t.Parallel()
		ns, srv := newBackend(t, time.Now, fastRetries)
		srv.Inject(kvserver.RoutePutValue, kvserver.Fault{Status: http.StatusBadRequest, Code: 10001, Message: "bad"})
		err := ns.Put(ctx, "k", []byte("v"), kv.PutOptions{})
		require.Error(t, err)
		var ae *cloudflare.APIError
		require.ErrorAs(t, err, &ae)
		require.Len(t, ae.Errors, 1)
		assert.Equal(t, int64(10001), ae.Errors[0].Code)
		assert.Equal(t, "bad", ae.Errors[0].Message)
		assert.Equal(t, 1, srv.Hits(kvserver.RoutePutValue))
	})
}

func TestWrongToken(t *testing.T) {
	t.Parallel()
	srv := kvtest.NewServer(t, kvtest.ServerOptions{})
	client := cfkv.NewKVService(option.WithBaseURL(srv.BaseURL), option.WithAPIToken("wrong"), option.WithHTTPClient(srv.Client()))
	ns, err := cloudflare.New(client, srv.AccountID, srv.NamespaceID, fastRetries)
	require.NoError(t, err)

	_, _, err = ns.Get(context.Background(), "k", kv.GetOptions{})
	require.ErrorIs(t, err, kv.ErrUnauthorized)
	var ae *cloudflare.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusUnauthorized, ae.Status)
	require.NotEmpty(t, ae.Errors)
	assert.Equal(t, int64(10000), ae.Errors[0].Code)
	assert.Equal(t, int64(1), ns.Requests().Total(), "401 is not retried")

	require.ErrorIs(t, ns.Put(context.Background(), "k", []byte("v"), kv.PutOptions{}), kv.ErrUnauthorized)
	_, err = ns.List(context.Background(), kv.ListOptions{})
	require.ErrorIs(t, err, kv.ErrUnauthorized)
	mem, _ := srv.Namespace(srv.NamespaceID)
	assert.Zero(t, mem.Len())
}

func TestUnknownNamespace(t *testing.T) {
	t.Parallel()
	srv := kvtest.NewServer(t, kvtest.ServerOptions{})
	client := cfkv.NewKVService(option.WithBaseURL(srv.BaseURL), option.WithAPIToken(srv.Token), option.WithHTTPClient(srv.Client()))
	ns, err := cloudflare.New(client, srv.AccountID, "ffffffffffffffffffffffffffffffff", fastRetries)
	require.NoError(t, err)
	err = ns.Put(context.Background(), "k", []byte("v"), kv.PutOptions{})
	require.ErrorIs(t, err, kv.ErrNotFound)
	_, err = ns.List(context.Background(), kv.ListOptions{})
	require.ErrorIs(t, err, kv.ErrNotFound)
	assert.False(t, errors.Is(err, kv.ErrUnavailable))
}
