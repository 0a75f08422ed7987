package kvecho

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/middleware/internal/ratelimithttp"
	"github.com/kvkit/kvkit/patterns/counter"
)

// RateLimitConfig configures RateLimitWithConfig.
type RateLimitConfig struct {
	// Skipper defines a function to skip the middleware.
	// Optional. Default value middleware.DefaultSkipper.
	Skipper middleware.Skipper
	// Limiter decides and counts.
	// Required.
	Limiter *counter.Limiter
	// KeyFunc returns a request's rate-limit key: httpkey.ByIP,
	// httpkey.ByHeader, or any func(*http.Request) (string, error), which
	// reads c.Request().
	// Required.
	KeyFunc httpkey.KeyFunc
	// FailClosed answers through ErrorHandler (503 by default) when the
	// limiter cannot reach KV: for keys it could not sync once a sync has
	// failed, or from the first request with
	// counter.LimiterOptions.ReadOnRequest.
	// Optional. Default value false: fail open, the request is decided from
	// this process's local counts alone (the limiter logs the failure,
	// throttled).
	FailClosed bool
	// Headers names the response headers; set Headers.IETF for the IETF
	// RateLimit and RateLimit-Policy fields.
	// Optional. Default value X-RateLimit-Limit, X-RateLimit-Remaining,
	// X-RateLimit-Reset, and Retry-After on limited requests.
	Headers counter.Headers
	// DenyHandler answers limited requests, after the headers are set.
	// Optional. Default value returns ErrRateLimitExceeded (429).
	DenyHandler func(c echo.Context, res counter.Result) error
	// ErrorHandler answers requests the key function failed on, and KV
	// failures when FailClosed.
	// Optional. Default value returns a 400 *echo.HTTPError for errors
	// wrapping httpkey.ErrNoKey or kv.ErrInvalidKey and 503 otherwise, with Internal set to err.
	ErrorHandler func(c echo.Context, err error) error
}

// DefaultRateLimitConfig is the default RateLimit middleware config.
var DefaultRateLimitConfig = RateLimitConfig{
	Skipper: middleware.DefaultSkipper,
}

// ErrRateLimitExceeded is returned by the default DenyHandler.
var ErrRateLimitExceeded = echo.NewHTTPError(http.StatusTooManyRequests, "rate limit exceeded")

// RateLimit returns middleware that limits requests through lim by the key
// that key returns. It panics if either is nil.
//
//	e.Use(kvecho.RateLimit(lim, httpkey.ByIP(httpkey.IPConfig{})))
func RateLimit(lim *counter.Limiter, key httpkey.KeyFunc) echo.MiddlewareFunc {
	c := DefaultRateLimitConfig
	c.Limiter, c.KeyFunc = lim, key
	return RateLimitWithConfig(c)
}

// RateLimitWithConfig returns RateLimit middleware with config. It panics on
// a config without Limiter or KeyFunc; use ToMiddleware to get an error.
func RateLimitWithConfig(config RateLimitConfig) echo.MiddlewareFunc {
	mw, err := config.ToMiddleware()
	if err != nil {
		panic(err)
	}
	return mw
}

// ToMiddleware validates config and returns the middleware.
func (config RateLimitConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if config.Limiter == nil || config.KeyFunc == nil {
		return nil, invalidConfig("RateLimitConfig.Limiter and RateLimitConfig.KeyFunc are required")
	}
	if config.Skipper == nil {
		config.Skipper = DefaultRateLimitConfig.Skipper
	}
	if config.DenyHandler == nil {
		config.DenyHandler = func(echo.Context, counter.Result) error { return ErrRateLimitExceeded }
	}
	if config.ErrorHandler == nil {
		config.ErrorHandler = rateLimitError
	}
	config.Headers = config.Headers.WithDefaults()
	rl := &rateLimiter{RateLimitConfig: config, perClient: ratelimithttp.PerClient(config.Headers)}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		// Echo applies middleware per request: this closure is all it
		// allocates for us.
		return func(c echo.Context) error { return rl.serve(c, next) }
	}, nil
}

// rateLimiter is a RateLimit middleware (Headers after WithDefaults).
type rateLimiter struct {
	RateLimitConfig
	perClient []string
}

func (rl *rateLimiter) serve(c echo.Context, next echo.HandlerFunc) error {
	if rl.Skipper(c) {
		return next(c)
	}
	r := c.Request()
	k, err := rl.KeyFunc(r)
	if err != nil {
		return rl.ErrorHandler(c, err)
	}
	res, err := rl.Limiter.AllowN(r.Context(), k, httpkey.CostFrom(r.Context()))
	if err != nil && (rl.FailClosed || badKey(err)) {
		return rl.ErrorHandler(c, err)
	}
	ratelimithttp.Mark(r, &rl.perClient) // a cache outside stores the page without them
	rl.Limiter.WriteHeaders(c.Response().Header(), res, rl.Headers)
	if !res.Allowed {
		return rl.DenyHandler(c, res)
	}
	return next(c)
}

func rateLimitError(_ echo.Context, err error) error {
	code := http.StatusServiceUnavailable
	if badKey(err) {
		code = http.StatusBadRequest
	}
	return echo.NewHTTPError(code, http.StatusText(code)).WithInternal(err)
}

// badKey reports an error that is the request's fault: no key, or a key KV
// cannot store.
func badKey(err error) bool {
	return errors.Is(err, httpkey.ErrNoKey) || errors.Is(err, kv.ErrInvalidKey)
}
