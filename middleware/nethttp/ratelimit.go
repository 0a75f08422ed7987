package nethttp

import (
	"errors"
	"net/http"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/middleware/internal/ratelimithttp"
	"github.com/kvkit/kvkit/patterns/counter"
)

// RateLimitConfig configures the RateLimit middleware.
type RateLimitConfig struct {
	// Skipper exempts some requests from the limit (they are not counted).
	// Optional. Default: DefaultSkipper.
	Skipper Skipper
	// Limiter decides and counts. Required.
	Limiter *counter.Limiter
	// KeyFunc returns a request's rate-limit key: httpkey.ByIP,
	// httpkey.ByHeader, or any func(*http.Request) (string, error).
	// Required.
	KeyFunc httpkey.KeyFunc
	// FailClosed answers through ErrorHandler (503 by default) when the
	// limiter cannot reach KV: for keys it could not sync once a sync has
	// failed, or from the first request with
	// counter.LimiterOptions.ReadOnRequest. Optional. Default: false, fail
	// open: the request is decided from this process's local counts alone
	// (the limiter logs the failure, throttled).
	FailClosed bool
	// Headers names the response headers; set Headers.IETF for the IETF
	// RateLimit and RateLimit-Policy fields. Optional. Default:
	// X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset on every
	// response, and Retry-After on limited ones.
	Headers counter.Headers
	// DenyHandler answers limited requests, after the headers are set.
	// Optional. Default: 429 Too Many Requests with a plain-text body.
	DenyHandler func(w http.ResponseWriter, r *http.Request, res counter.Result)
	// ErrorHandler answers requests the key function failed on, and KV
	// failures when FailClosed. Optional. Default: 400 for errors wrapping
	// httpkey.ErrNoKey or kv.ErrInvalidKey (a key too long for KV), 503
	// otherwise, with plain-text bodies.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// DefaultRateLimitConfig is the default RateLimit middleware config.
var DefaultRateLimitConfig = RateLimitConfig{
	Skipper:      DefaultSkipper,
	DenyHandler:  rateLimitTooMany,
	ErrorHandler: rateLimitError,
}

// RateLimit returns middleware that limits requests through lim by the key
// that key returns (see httpkey.ByIP, httpkey.ByHeader). A request counts as
// one event, or as httpkey.CostFrom(r.Context()) when earlier middleware set
// httpkey.WithCost. Every answered request carries the rate-limit headers;
// limited ones get 429 and Retry-After. It panics if lim or key is nil.
//
//	lim, _ := counter.NewLimiter(ns, 100, time.Minute, counter.LimiterOptions{})
//	defer lim.Close(ctx)
//	handler := nethttp.RateLimit(lim, httpkey.ByIP(httpkey.IPConfig{}))(mux)
func RateLimit(lim *counter.Limiter, key httpkey.KeyFunc) func(http.Handler) http.Handler {
	c := DefaultRateLimitConfig
	c.Limiter, c.KeyFunc = lim, key
	return RateLimitWithConfig(c)
}

// RateLimitWithConfig returns the RateLimit middleware with config. It
// panics on a bad config (see [RateLimitConfig.ToMiddleware] for an error
// instead).
func RateLimitWithConfig(config RateLimitConfig) func(http.Handler) http.Handler {
	return mustMiddleware(config.ToMiddleware())
}

// ToMiddleware validates config and returns the RateLimit middleware.
func (config RateLimitConfig) ToMiddleware() (func(http.Handler) http.Handler, error) {
	if config.Limiter == nil || config.KeyFunc == nil {
		return nil, invalidConfig("RateLimitConfig.Limiter and RateLimitConfig.KeyFunc are required")
	}
	if config.Skipper == nil {
		config.Skipper = DefaultRateLimitConfig.Skipper
	}
	if config.DenyHandler == nil {
		config.DenyHandler = DefaultRateLimitConfig.DenyHandler
	}
	if config.ErrorHandler == nil {
		config.ErrorHandler = DefaultRateLimitConfig.ErrorHandler
	}
	hs := config.Headers.WithDefaults()
	perClient := ratelimithttp.PerClient(hs)
	lim, key, skip, failClosed := config.Limiter, config.KeyFunc, config.Skipper, config.FailClosed
	onLimit, onError := config.DenyHandler, config.ErrorHandler
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			k, err := key(r)
			if err != nil {
				onError(w, r, err)
				return
			}
			res, err := lim.AllowN(r.Context(), k, httpkey.CostFrom(r.Context()))
			if err != nil && (failClosed || badKey(err)) {
				onError(w, r, err)
				return
			}
			ratelimithttp.Mark(r, &perClient) // a cache outside stores the page without them
			lim.WriteHeaders(w.Header(), res, hs)
			if !res.Allowed {
				onLimit(w, r, res)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

func rateLimitTooMany(w http.ResponseWriter, _ *http.Request, _ counter.Result) {
	http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
}

func rateLimitError(w http.ResponseWriter, _ *http.Request, err error) {
	code := http.StatusServiceUnavailable
	if badKey(err) {
		code = http.StatusBadRequest
	}
	http.Error(w, http.StatusText(code), code)
}

// badKey reports an error that is the request's fault: no key, or a key KV
// cannot store.
func badKey(err error) bool {
	return errors.Is(err, httpkey.ErrNoKey) || errors.Is(err, kv.ErrInvalidKey)
}
