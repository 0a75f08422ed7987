package retry_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/internal/retry"
)

var errTry = errors.New("try failed")

func policy(t *testing.T, waits *[]time.Duration) retry.Policy {
	p := retry.Policy{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Sleep: func(ctx context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		return ctx.Err()
	}}
	require.NoError(t, p.Fill(time.Hour, time.Hour))
	return p
}

func TestDo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("retries up to the cap with growing jittered waits", func(t *testing.T) {
		t.Parallel()
		var waits []time.Duration
		p := policy(t, &waits)
		tries, retried := 0, 0
		err := p.Do(ctx, p.MaxAttempts, func(context.Context, int) (retry.Verdict, error) {
			tries++
			return retry.Verdict{Retry: true}, errTry
		}, func(int, time.Duration, error) { retried++ })
		assert.ErrorIs(t, err, errTry)
		assert.Equal(t, 4, tries, "default MaxAttempts")
		assert.Equal(t, 3, retried)
		require.Len(t, waits, 3)
		for i, w := range waits {
			full := 100 * time.Millisecond << i
			assert.GreaterOrEqual(t, w, full/2, "equal jitter: at least half")
			assert.LessOrEqual(t, w, full)
		}
	})
	t.Run("Retry-After is honoured up to the cap", func(t *testing.T) {
		t.Parallel()
		var waits []time.Duration
		p := policy(t, &waits)
		n := 0
		err := p.Do(ctx, 4, func(context.Context, int) (retry.Verdict, error) {
			n++
			if n == 1 {
				return retry.Verdict{Retry: true, RetryAfter: 2 * time.Second}, errTry
			}
			if n == 2 {
				return retry.Verdict{Retry: true, RetryAfter: time.Hour}, errTry
			}
			return retry.Verdict{}, nil
		}, nil)
		assert.ErrorIs(t, err, errTry, "a Retry-After over MaxRetryAfter fails at once")
		assert.Equal(t, []time.Duration{2 * time.Second}, waits)
	})
	t.Run("no retry: one try", func(t *testing.T) {
		t.Parallel()
		var waits []time.Duration
		p := policy(t, &waits)
		n := 0
		err := p.Do(ctx, 4, func(context.Context, int) (retry.Verdict, error) { n++; return retry.Verdict{}, errTry }, nil)
		assert.ErrorIs(t, err, errTry)
		assert.Equal(t, 1, n)
		assert.Empty(t, waits)
	})
	t.Run("no wait past the deadline", func(t *testing.T) {
		t.Parallel()
		var waits []time.Duration
		p := policy(t, &waits)
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		n := 0
		err := p.Do(dctx, 4, func(context.Context, int) (retry.Verdict, error) {
			n++
			return retry.Verdict{Retry: true, RetryAfter: time.Second}, errTry
		}, nil)
		assert.ErrorIs(t, err, errTry)
		assert.Equal(t, 1, n)
		assert.Empty(t, waits)
	})
	t.Run("a cancelled context stops before trying", func(t *testing.T) {
		t.Parallel()
		var waits []time.Duration
		p := policy(t, &waits)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := p.Do(cctx, 4, func(context.Context, int) (retry.Verdict, error) { t.Fatal("tried"); return retry.Verdict{}, nil }, nil)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestFill(t *testing.T) {
	t.Parallel()
	p := retry.Policy{MaxAttempts: -1}
	assert.Error(t, p.Fill(time.Second, time.Second))
	p = retry.Policy{BaseBackoff: time.Minute}
	require.NoError(t, p.Fill(time.Second, 2*time.Second))
	assert.Equal(t, time.Minute, p.MaxBackoff, "the cap is never under the base")
	assert.Equal(t, 30*time.Second, p.MaxRetryAfter)
	assert.NotNil(t, p.Sleep)
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"2"}}, 2 * time.Second},
		{http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{http.Header{"Retry-After-Ms": {"150"}, "Retry-After": {"9"}}, 150 * time.Millisecond},
		{http.Header{"Retry-After": {now.Add(time.Minute).Format(http.TimeFormat)}}, time.Minute},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{http.Header{"Retry-After": {"-3"}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{}, 0},
	} {
		assert.Equal(t, tc.want, retry.ParseRetryAfter(tc.h, now), "%v", tc.h)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]struct {
		sentinel error
		retry    bool
	}{
		429: {kv.ErrRateLimited, true}, 401: {kv.ErrUnauthorized, false}, 403: {kv.ErrUnauthorized, false},
		404: {kv.ErrNotFound, false}, 408: {kv.ErrUnavailable, true}, 500: {kv.ErrUnavailable, true},
		503: {kv.ErrUnavailable, true}, 400: {nil, false}, 413: {nil, false},
	} {
		s, r := retry.Status(status)
		assert.Equal(t, want.sentinel, s, "%d", status)
		assert.Equal(t, want.retry, r, "%d", status)
	}
}
