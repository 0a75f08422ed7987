package kvecho

import (
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/kvkit/kvkit/patterns/flags"
)

// FlagsConfig configures the Flags middleware.
type FlagsConfig struct {
	// Skipper defines a function to skip the middleware.
	// Optional. Default: middleware.DefaultSkipper.
	Skipper middleware.Skipper
	// Client evaluates the flags. Required.
	Client *flags.Client
	// UserID names the request's user (from a session, a header, a
	// cookie...). Required.
	UserID func(c echo.Context) string
}

// DefaultFlagsConfig is the default Flags middleware config.
var DefaultFlagsConfig = FlagsConfig{Skipper: middleware.DefaultSkipper}

// Flags returns middleware that binds a per-request [flags.Evaluator] for
// the user userID names, so that handlers write
//
//	if kvecho.FlagsFrom(c).IsEnabled("new-ui") { ... }
//
// The evaluator is bound to the request, so [flags.FromContext] of the
// request's context and nethttp.FlagsFrom read it too.
func Flags(client *flags.Client, userID func(c echo.Context) string) echo.MiddlewareFunc {
	c := DefaultFlagsConfig
	c.Client, c.UserID = client, userID
	return FlagsWithConfig(c)
}

// FlagsWithConfig returns the Flags middleware with config. It panics when
// config is invalid (see ToMiddleware for an error instead).
func FlagsWithConfig(config FlagsConfig) echo.MiddlewareFunc {
	mw, err := config.ToMiddleware()
	if err != nil {
		panic(err)
	}
	return mw
}

// ToMiddleware returns the Flags middleware, or an error when Client or
// UserID is missing.
func (config FlagsConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if config.Client == nil || config.UserID == nil {
		return nil, invalidConfig("FlagsConfig.Client and FlagsConfig.UserID are required")
	}
	if config.Skipper == nil {
		config.Skipper = DefaultFlagsConfig.Skipper
	}
	cfg := &config // the closure Echo allocates per request holds a pointer, not the config
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			r := c.Request()
			ctx := r.Context()
			ev := cfg.Client.For(ctx, cfg.UserID(c))
			// Bound to the request when a Session or Cache layer outside
			// made its kvkit record: then no request copy of our own.
			if bound := flags.Bind(ctx, ev); bound != ctx {
				c.SetRequest(r.WithContext(bound))
			}
			return next(c)
		}
	}, nil
}

// FlagsFrom returns the request's flag evaluator. Without the Flags
// middleware it returns nil, which reports every flag off.
func FlagsFrom(c echo.Context) *flags.Evaluator { return flags.FromContext(c.Request().Context()) }

// FlagGateConfig configures the FlagGate middleware.
type FlagGateConfig struct {
	// Skipper defines a function to skip the middleware (the route is
	// served). Optional. Default: middleware.DefaultSkipper.
	Skipper middleware.Skipper
	// Flag is the flag that must be on for the request's user. Required.
	Flag string
	// DenyHandler answers requests for which the flag is off.
	// Optional. Default: returns echo.ErrNotFound (404).
	DenyHandler func(c echo.Context) error
}

// DefaultFlagGateConfig is the default FlagGate middleware config.
var DefaultFlagGateConfig = FlagGateConfig{
	Skipper:     middleware.DefaultSkipper,
	DenyHandler: func(echo.Context) error { return echo.ErrNotFound },
}

// FlagGate returns middleware that serves the route only when flag is on
// for the request's user, as decided by the evaluator the Flags middleware
// bound (so Flags must run first; without it the flag is off).
func FlagGate(flag string) echo.MiddlewareFunc {
	c := DefaultFlagGateConfig
	c.Flag = flag
	return FlagGateWithConfig(c)
}

// FlagGateWithConfig returns the FlagGate middleware with config. It panics
// when config is invalid (see ToMiddleware for an error instead).
func FlagGateWithConfig(config FlagGateConfig) echo.MiddlewareFunc {
	mw, err := config.ToMiddleware()
	if err != nil {
		panic(err)
	}
	return mw
}

// ToMiddleware returns the FlagGate middleware, or an error when Flag is
// empty.
func (config FlagGateConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if config.Flag == "" {
		return nil, invalidConfig("FlagGateConfig.Flag is required")
	}
	if config.Skipper == nil {
		config.Skipper = DefaultFlagGateConfig.Skipper
	}
	if config.DenyHandler == nil {
		config.DenyHandler = DefaultFlagGateConfig.DenyHandler
	}
	cfg := &config // the closure Echo allocates per request holds a pointer, not the config
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) || FlagsFrom(c).IsEnabled(cfg.Flag) {
				return next(c)
			}
			return cfg.DenyHandler(c)
		}
	}, nil
}
