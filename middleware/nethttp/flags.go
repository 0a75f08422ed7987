package nethttp

import (
	"net/http"

	"github.com/kvkit/kvkit/patterns/flags"
)

// Flags returns middleware that binds a per-request [flags.Evaluator] for
// the user userID names (from a session, a header, a cookie...), so that
// handlers write
//
//	if nethttp.FlagsFrom(r).IsEnabled("new-ui") { ... }
//
// The evaluator lives in the request's context ([flags.FromContext] reads
// it too). It panics if c or userID is nil.
func Flags(c *flags.Client, userID func(*http.Request) string) func(http.Handler) http.Handler {
	if c == nil || userID == nil {
		panic("nethttp: Flags expects a flags client and a user ID function")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			ev := c.For(ctx, userID(r))
			next.ServeHTTP(w, r.WithContext(flags.NewContext(ctx, ev)))
		})
	}
}

// FlagsFrom returns the request's flag evaluator. Without the Flags
// middleware it returns nil, which reports every flag off.
func FlagsFrom(r *http.Request) *flags.Evaluator { return flags.FromContext(r.Context()) }

// FlagGateOptions configures FlagGate. The zero value is valid.
type FlagGateOptions struct {
	// Denied serves requests for which the flag is off.
	// Optional. Default: http.NotFoundHandler() (404).
	Denied http.Handler
}

// FlagGate returns middleware that serves the route only when flag name is
// on for the request's user, as decided by the evaluator the Flags
// middleware bound (so Flags must run first; without it the flag is off).
// Other requests go to opts.Denied. It panics if name is empty.
func FlagGate(name string, opts FlagGateOptions) func(http.Handler) http.Handler {
	if name == "" {
		panic("nethttp: FlagGate expects a flag name")
	}
	denied := opts.Denied
	if denied == nil {
		denied = http.NotFoundHandler()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !FlagsFrom(r).IsEnabled(name) {
				denied.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
