package kvecho

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

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
	// KeyFunc returns a request's rate-limit key: counter.KeyByIP,
	// counter.KeyByHeader, or any func(*http.Request) (string, error)
	// (counter.KeyByFunc), which reads c.Request().
	// Required.
	KeyFunc counter.KeyFunc
	// FailClosed answers through ErrorHandler (503 by default) when the
	// limiter cannot reach KV.
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
	// wrapping counter.ErrNoKey and 503 otherwise, with Internal set to err.
	ErrorHandler func(c echo.Context, err error) error
}

// DefaultRateLimitConfig is the default RateLimit middleware config.
var DefaultRateLimitConfig = RateLimitConfig{
	Skipper: middleware.DefaultSkipper,
}

// ErrRateLimitExceeded is returned by the default DenyHandler.
var ErrRateLimitExceeded = echo.NewHTTPError(http.StatusTooManyRequests, "rate limit exceeded")

// errRateLimitConfig is what ToMiddleware returns for a config without its
// required fields.
var errRateLimitConfig = errors.New("kvecho: RateLimit needs a Limiter and a KeyFunc")

// RateLimit returns middleware that limits requests through lim by the key
// that key returns. It panics if either is nil.
//
//	e.Use(kvecho.RateLimit(lim, counter.KeyByIP()))
func RateLimit(lim *counter.Limiter, key counter.KeyFunc) echo.MiddlewareFunc {
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
		return nil, errRateLimitConfig
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
	hs := config.Headers.WithDefaults()
	lim := config.Limiter
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if config.Skipper(c) {
				return next(c)
			}
			r := c.Request()
			k, err := config.KeyFunc(r)
			if err != nil {
				return config.ErrorHandler(c, err)
			}
			res, err := lim.AllowN(r.Context(), k, counter.CostFrom(r.Context()))
			if err != nil && (config.FailClosed || errors.Is(err, counter.ErrNoKey)) {
				return config.ErrorHandler(c, err)
			}
			lim.WriteHeaders(c.Response().Header(), res, hs)
			if !res.Allowed {
				return config.DenyHandler(c, res)
			}
			return next(c)
		}
	}, nil
}

func rateLimitError(_ echo.Context, err error) error {
	code := http.StatusServiceUnavailable
	if errors.Is(err, counter.ErrNoKey) {
		code = http.StatusBadRequest
	}
	return echo.NewHTTPError(code, http.StatusText(code)).WithInternal(err)
}
