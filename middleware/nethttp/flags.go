package nethttp

import (
	"net/http"

	"github.com/kvkit/kvkit/patterns/flags"
)

// FlagsConfig configures the Flags middleware.
type FlagsConfig struct {
	// Skipper skips the middleware for some requests: their handlers see
	// every flag off. Optional. Default: DefaultSkipper.
	Skipper Skipper
	// Client evaluates the flags. Required.
	Client *flags.Client
	// UserID names the request's user (from a session, a header, a
	// cookie...). Required.
	UserID func(r *http.Request) string
}

// DefaultFlagsConfig is the default Flags middleware config.
var DefaultFlagsConfig = FlagsConfig{Skipper: DefaultSkipper}

// Flags returns middleware that binds a per-request [flags.Evaluator] for
// the user userID names, so that handlers write
//
//	if nethttp.FlagsFrom(r).IsEnabled("new-ui") { ... }
//
// The evaluator is bound to the request ([flags.FromContext] of the
// request's context reads it too). It panics if client or userID is nil.
func Flags(client *flags.Client, userID func(r *http.Request) string) func(http.Handler) http.Handler {
	c := DefaultFlagsConfig
	c.Client, c.UserID = client, userID
	return FlagsWithConfig(c)
}

// FlagsWithConfig returns the Flags middleware with config. It panics on a
// bad config (see [FlagsConfig.ToMiddleware] for an error instead).
func FlagsWithConfig(config FlagsConfig) func(http.Handler) http.Handler {
	return mustMiddleware(config.ToMiddleware())
}

// ToMiddleware validates config and returns the Flags middleware.
func (config FlagsConfig) ToMiddleware() (func(http.Handler) http.Handler, error) {
	if config.Client == nil || config.UserID == nil {
		return nil, invalidConfig("FlagsConfig.Client and FlagsConfig.UserID are required")
	}
	if config.Skipper == nil {
		config.Skipper = DefaultFlagsConfig.Skipper
	}
	client, userID, skip := config.Client, config.UserID, config.Skipper
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			ctx := r.Context()
			ev := client.For(ctx, userID(r))
			// Bound to the request when a Session or Cache layer outside
			// made its kvkit record: then no request copy of our own.
			if bound := flags.Bind(ctx, ev); bound != ctx {
				r = r.WithContext(bound)
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// FlagsFrom returns the request's flag evaluator. Without the Flags
// middleware it returns nil, which reports every flag off.
func FlagsFrom(r *http.Request) *flags.Evaluator { return flags.FromContext(r.Context()) }

// FlagGateConfig configures the FlagGate middleware.
type FlagGateConfig struct {
	// Skipper skips the gate for some requests (the route is served).
	// Optional. Default: DefaultSkipper.
	Skipper Skipper
	// Flag is the flag that must be on for the request's user. Required.
	Flag string
	// DenyHandler answers requests for which the flag is off.
	// Optional. Default: http.NotFound (404).
	DenyHandler func(w http.ResponseWriter, r *http.Request)
}

// DefaultFlagGateConfig is the default FlagGate middleware config.
var DefaultFlagGateConfig = FlagGateConfig{
	Skipper:     DefaultSkipper,
	DenyHandler: http.NotFound,
}

// FlagGate returns middleware that serves the route only when flag is on
// for the request's user, as decided by the evaluator the Flags middleware
// bound (so Flags must run first; without it the flag is off). Other
// requests get 404. It panics if flag is empty.
func FlagGate(flag string) func(http.Handler) http.Handler {
	c := DefaultFlagGateConfig
	c.Flag = flag
	return FlagGateWithConfig(c)
}

// FlagGateWithConfig returns the FlagGate middleware with config. It panics
// on a bad config (see [FlagGateConfig.ToMiddleware] for an error instead).
func FlagGateWithConfig(config FlagGateConfig) func(http.Handler) http.Handler {
	return mustMiddleware(config.ToMiddleware())
}

// ToMiddleware validates config and returns the FlagGate middleware.
func (config FlagGateConfig) ToMiddleware() (func(http.Handler) http.Handler, error) {
	if config.Flag == "" {
		return nil, invalidConfig("FlagGateConfig.Flag is required")
	}
	if config.Skipper == nil {
		config.Skipper = DefaultFlagGateConfig.Skipper
	}
	if config.DenyHandler == nil {
		config.DenyHandler = DefaultFlagGateConfig.DenyHandler
	}
	flag, skip, deny := config.Flag, config.Skipper, config.DenyHandler
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skip(r) || FlagsFrom(r).IsEnabled(flag) {
				next.ServeHTTP(w, r)
				return
			}
			deny(w, r)
		})
	}, nil
}
