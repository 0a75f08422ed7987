package nethttp

import (
	"net/http"

	"github.com/kvkit/kvkit/internal/sessionhttp"
	"github.com/kvkit/kvkit/patterns/session"
)

// SessionConfig configures the Session middleware.
type SessionConfig struct {
	// Skipper skips the middleware for some requests: they get no session.
	// Optional. Default: DefaultSkipper.
	Skipper Skipper
	// Manager is the session manager (*session.Manager[T]). Required.
	Manager session.Starter
	// ErrorHandler answers a request whose session could not be loaded or
	// saved (a KV error). The handler's own response is discarded, so
	// nothing half-written reaches the client; the error is already logged
	// by the Manager. Optional. Default: a plain 500 "Internal Server Error"
	// (no key, no stack).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// DefaultSessionConfig is the default Session middleware config.
var DefaultSessionConfig = SessionConfig{
	Skipper:      DefaultSkipper,
	ErrorHandler: sessionDefaultError,
}

// Session returns middleware that gives each request the session of m
// (*session.Manager[T]), reachable from handlers through
// m.FromContext(r.Context()) or [SessionFrom]. It panics if m is nil.
//
// The session is loaded lazily, on the handler's first access, and
// committed (KV write and Set-Cookie) before the first byte of the response:
// on the handler's first WriteHeader, Write, ReadFrom, Flush or Hijack, or
// when it returns without writing. The wrapped writer keeps http.Flusher,
// http.Hijacker and io.ReaderFrom working and unwraps for
// http.ResponseController. A handler that starts its response cannot
// change the session any more (session.ErrCommitted).
func Session(m session.Starter) func(http.Handler) http.Handler {
	c := DefaultSessionConfig
	c.Manager = m
	return SessionWithConfig(c)
}

// SessionWithConfig returns the Session middleware with config. It panics on
// a bad config (see [SessionConfig.ToMiddleware] for an error instead).
func SessionWithConfig(config SessionConfig) func(http.Handler) http.Handler {
	return mustMiddleware(config.ToMiddleware())
}

// ToMiddleware validates config and returns the Session middleware.
func (config SessionConfig) ToMiddleware() (func(http.Handler) http.Handler, error) {
	if config.Manager == nil {
		return nil, invalidConfig("SessionConfig.Manager is required")
	}
	if config.Skipper == nil {
		config.Skipper = DefaultSessionConfig.Skipper
	}
	if config.ErrorHandler == nil {
		config.ErrorHandler = DefaultSessionConfig.ErrorHandler
	}
	m, onErr, skip := config.Manager, config.ErrorHandler, config.Skipper
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			p := m.Start(r)
			ctx := p.Context()
			sw := sessionhttp.For(ctx)
			r = sw.Bind(w, r, ctx, p, onErr)
			next.ServeHTTP(sw, r)
			if !sw.Committed() {
				if err := sw.Commit(); err != nil {
					onErr(w, r, err)
				}
			}
		})
	}, nil
}

func sessionDefaultError(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// SessionFrom returns the request's session for m, or nil (whose methods
// return session.ErrNoMiddleware) when the request did not pass through the
// Session middleware for m. It is m.FromContext(r.Context()).
func SessionFrom[T any](r *http.Request, m *session.Manager[T]) *session.Session[T] {
	return m.FromContext(r.Context())
}
