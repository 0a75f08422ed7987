package nethttp

import (
	"errors"
	"net/http"

	"github.com/kvkit/kvkit/patterns/counter"
)

// RateLimitConfig configures RateLimit. The zero value is valid.
type RateLimitConfig struct {
	// FailClosed answers through ErrorHandler (503 by default) when the
	// limiter cannot reach KV. Default: false, fail open: the request is
	// decided from this process's local counts alone (the failure is logged
	// by the limiter, throttled).
	FailClosed bool
	// Headers names the response headers; set Headers.IETF for the IETF
	// RateLimit and RateLimit-Policy fields. Default: X-RateLimit-Limit,
	// X-RateLimit-Remaining, X-RateLimit-Reset on every response and
	// Retry-After on limited ones.
	Headers counter.Headers
	// LimitHandler answers limited requests, after the headers are set.
	// Default: 429 Too Many Requests with a plain-text body.
	LimitHandler http.Handler
	// ErrorHandler answers requests the key function failed on, and KV
	// failures when FailClosed. Default: 400 for errors wrapping
	// counter.ErrNoKey, 503 otherwise.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// RateLimit returns middleware that limits requests by the key that key
// returns, through lim (see counter.KeyByIP, counter.KeyByHeader,
// counter.KeyByFunc). A request counts as one event, or as
// counter.CostFrom(r.Context()) when earlier middleware set counter.WithCost.
// Every answered request carries the rate-limit headers; limited ones get
// 429 and Retry-After. It panics if lim or key is nil.
//
//	lim, _ := counter.NewLimiter(ns, 100, time.Minute, counter.LimiterOptions{})
//	defer lim.Close(ctx)
//	mux := http.NewServeMux()
//	handler := nethttp.RateLimit(lim, counter.KeyByIP(), nethttp.RateLimitConfig{})(mux)
func RateLimit(lim *counter.Limiter, key counter.KeyFunc, cfg RateLimitConfig) func(http.Handler) http.Handler {
	mw, err := NewRateLimit(lim, key, cfg)
	if err != nil {
		panic(err)
	}
	return mw
}

// ErrRateLimitConfig is returned by NewRateLimit for a missing limiter or
// key function.
var ErrRateLimitConfig = errors.New("nethttp: RateLimit needs a limiter and a key function")

// NewRateLimit is RateLimit returning an error instead of panicking.
func NewRateLimit(lim *counter.Limiter, key counter.KeyFunc, cfg RateLimitConfig) (func(http.Handler) http.Handler, error) {
	if lim == nil || key == nil {
		return nil, ErrRateLimitConfig
	}
	hs := cfg.Headers.WithDefaults()
	onLimit := cfg.LimitHandler
	if onLimit == nil {
		onLimit = http.HandlerFunc(rateLimitTooMany)
	}
	onError := cfg.ErrorHandler
	if onError == nil {
		onError = rateLimitError
	}
	failClosed := cfg.FailClosed
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k, err := key(r)
			if err != nil {
				onError(w, r, err)
				return
			}
			res, err := lim.AllowN(r.Context(), k, counter.CostFrom(r.Context()))
			if err != nil && (failClosed || errors.Is(err, counter.ErrNoKey)) {
				onError(w, r, err)
				return
			}
			lim.WriteHeaders(w.Header(), res, hs)
			if !res.Allowed {
				onLimit.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

func rateLimitTooMany(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
}

func rateLimitError(w http.ResponseWriter, _ *http.Request, err error) {
	code := http.StatusServiceUnavailable
	if errors.Is(err, counter.ErrNoKey) {
		code = http.StatusBadRequest
	}
	http.Error(w, http.StatusText(code), code)
}
