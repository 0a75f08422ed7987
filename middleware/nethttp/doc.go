// Package nethttp adapts kvkit's patterns to net/http. It mirrors package
// kvecho name for name, so a reader who knows one adapter knows the other:
// every middleware X comes as
//
//	X(required arguments) func(http.Handler) http.Handler
//	XWithConfig(XConfig) func(http.Handler) http.Handler // panics on a bad config
//	XConfig{Skipper, ...}.ToMiddleware() (func(http.Handler) http.Handler, error)
//
// with a DefaultXConfig holding the defaults. Every XConfig starts with a
// [Skipper]; optional fields left zero take their default. Hooks receive the
// request (and the error or result they are about): ErrorHandler answers
// failures, DenyHandler answers refusals. Per-request state lives in the
// request's context behind typed getters ([SessionFrom], [FlagsFrom]).
//
// The package name differs from its folder so that it never collides with
// net/http:
//
//	import "github.com/kvkit/kvkit/middleware/nethttp"
package nethttp

import "net/http"

// Skipper reports whether a request skips a middleware (goes straight to
// the next handler), as echo's middleware.Skipper does for Echo.
type Skipper func(r *http.Request) bool

// DefaultSkipper skips nothing.
func DefaultSkipper(*http.Request) bool { return false }

// nethttpError is the type of the package's sentinel errors.
type nethttpError string

func (e nethttpError) Error() string { return string(e) }

// ErrInvalidConfig is wrapped by the error of ToMiddleware (and the panic of
// XWithConfig) for a config without its required fields.
const ErrInvalidConfig nethttpError = "nethttp: invalid middleware config"

func invalidConfig(msg string) error { return &configError{msg} }

type configError struct{ msg string }

func (e *configError) Error() string { return string(ErrInvalidConfig) + ": " + e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

// mustMiddleware returns mw, panicking on err (the XWithConfig forms).
func mustMiddleware(mw func(http.Handler) http.Handler, err error) func(http.Handler) http.Handler {
	if err != nil {
		panic(err)
	}
	return mw
}
