// Package retry is the retry discipline kvkit's HTTP backends share
// (kv/cloudflare, kv/worker): bounded attempts, exponential backoff with
// equal jitter, Retry-After honoured up to a cap, and no wait that would
// outlive the caller's deadline.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/kvkit/kvkit/kv"
)

// Policy bounds the attempts of one call. Fill sets its defaults.
type Policy struct {
	MaxAttempts   int           // requests for one call, the first included
	BaseBackoff   time.Duration // the wait before the first retry, doubled for each later one
	MaxBackoff    time.Duration // the cap of the computed backoff
	MaxRetryAfter time.Duration // a longer Retry-After fails the call at once
	// Sleep waits d or until ctx ends (then it returns ctx.Err()).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Fill checks p and sets every zero field: 4 attempts, the given backoffs,
// a 30 s Retry-After cap, a timer for Sleep. A negative setting is an error.
func (p *Policy) Fill(baseBackoff, maxBackoff time.Duration) error {
	if p.MaxAttempts < 0 || p.BaseBackoff < 0 || p.MaxBackoff < 0 || p.MaxRetryAfter < 0 {
		return errors.New("negative retry setting")
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 4
	}
	if p.BaseBackoff == 0 {
		p.BaseBackoff = baseBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = maxBackoff
	}
	p.MaxBackoff = max(p.MaxBackoff, p.BaseBackoff)
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 30 * time.Second
	}
	if p.Sleep == nil {
		p.Sleep = SleepCtx
	}
	return nil
}

// Verdict is what one failed attempt says about the next.
type Verdict struct {
	Retry      bool          // another attempt may succeed
	RetryAfter time.Duration // the server's Retry-After; 0 when none
}

// Do runs try until it succeeds, or fails for good: a verdict without
// Retry, the attempt cap, a Retry-After over the cap (waiting less would
// only spend a request on a certain 429), or a wait the context's deadline
// would cut short. It returns nil, try's last error, or ctx.Err(). try gets
// the attempt number (from 1); onRetry, when set, hears of each retry
// before its wait.
func (p *Policy) Do(ctx context.Context, attempts int, try func(ctx context.Context, n int) (Verdict, error), onRetry func(n int, wait time.Duration, err error)) error {
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, err := try(ctx, n)
		if err == nil {
			return nil
		}
		if !v.Retry || n >= attempts {
			return err
		}
		wait := p.backoff(n)
		if v.RetryAfter > 0 {
			if v.RetryAfter > p.MaxRetryAfter {
				return err
			}
			wait = max(wait, v.RetryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return err // the retry could not finish in time
		}
		if onRetry != nil {
			onRetry(n, wait, err)
		}
		if err := p.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// backoff returns the wait before attempt n+1 (n >= 1): exponential from
// BaseBackoff, capped at MaxBackoff, with equal jitter (half fixed, half
// random) so clients that failed together do not retry together.
func (p *Policy) backoff(n int) time.Duration {
	d := p.BaseBackoff << (n - 1)
	if d > p.MaxBackoff || d <= 0 {
		d = p.MaxBackoff
	}
	half := d / 2
	return half + rand.N(half+1)
}

// SleepCtx waits d or until ctx is done.
func SleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ParseRetryAfter reads Retry-After-Ms, then Retry-After (seconds or an
// HTTP date), as Cloudflare's SDKs do.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs > 0 {
			return time.Duration(secs * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Status classifies an HTTP error status: the kv sentinel of its class
// (nil for other 4xx) and whether another attempt may succeed (429, 408,
// 5xx).
func Status(status int) (sentinel error, retry bool) {
	switch {
	case status == http.StatusTooManyRequests:
		return kv.ErrRateLimited, true
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return kv.ErrUnauthorized, false
	case status == http.StatusNotFound:
		return kv.ErrNotFound, false
	case status == http.StatusRequestTimeout || status >= 500:
		return kv.ErrUnavailable, true
	}
	return nil, false
}
