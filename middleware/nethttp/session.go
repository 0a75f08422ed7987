package nethttp

import (
	"net/http"

	"github.com/kvkit/kvkit/middleware/internal/sessionhttp"
	"github.com/kvkit/kvkit/patterns/session"
)

// SessionOptions configures [Session]. The zero value is ready to use.
type SessionOptions struct {
	// ErrorHandler answers a request whose session could not be loaded or
	// saved (a KV error). The handler's own response is discarded, so
	// nothing half-written reaches the client; the error is already logged
	// by the Manager. Optional. Default: a plain 500 "Internal Server Error"
	// (no key, no stack).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Session returns middleware that gives each request the session of m
// (*session.Manager[T]), reachable from handlers through
// m.FromContext(r.Context()) or [GetSession].
//
// The session is loaded lazily, on the handler's first access, and
// committed (KV write and Set-Cookie) before the first byte of the response:
// on the handler's first WriteHeader, Write, ReadFrom, Flush or Hijack, or
// when it returns without writing. The wrapped writer keeps http.Flusher,
// http.Hijacker and io.ReaderFrom working and unwraps for
// http.ResponseController. A handler that starts its response cannot
// change the session any more (session.ErrCommitted).
func Session(m session.Starter, opts SessionOptions) func(http.Handler) http.Handler {
	if m == nil {
		panic("nethttp: Session expects a session manager")
	}
	onErr := opts.ErrorHandler
	if onErr == nil {
		onErr = sessionDefaultError
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := m.Start(r)
			r = r.WithContext(p.Context())
			sw := &sessionhttp.Writer{W: w, R: r, Pending: p, OnError: onErr}
			next.ServeHTTP(sw, r)
			if !sw.Committed() {
				if err := sw.Commit(); err != nil {
					onErr(w, r, err)
				}
			}
		})
	}
}

func sessionDefaultError(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// GetSession returns the request's session for m, or nil (whose methods
// return session.ErrNoMiddleware) when the request did not pass through
// [Session] for m. It is m.FromContext(r.Context()).
func GetSession[T any](r *http.Request, m *session.Manager[T]) *session.Session[T] {
	return m.FromContext(r.Context())
}
