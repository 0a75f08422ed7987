package kvecho

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/kvkit/kvkit/internal/sessionhttp"
	"github.com/kvkit/kvkit/patterns/session"
)

// SessionConfig configures [SessionWithConfig].
type SessionConfig struct {
	// Skipper skips the middleware for some requests: they get no session.
	// Optional. Default value middleware.DefaultSkipper.
	Skipper middleware.Skipper
	// Manager is the session manager (*session.Manager[T]). Required.
	Manager session.Starter
	// ErrorHandler turns a failed session load or save (a KV error) into
	// the error the middleware returns, when the failure is found after the
	// handler returned without writing. Optional. Default value returns
	// echo.NewHTTPError(500) with Internal set to the cause (so the body
	// shows no key and no stack). When the failure happens as the handler
	// starts writing, a plain 500 replaces the handler's response and the
	// middleware returns that same *echo.HTTPError for logging.
	ErrorHandler func(c echo.Context, err error) error
}

// DefaultSessionConfig is the default Session middleware config.
var DefaultSessionConfig = SessionConfig{
	Skipper:      middleware.DefaultSkipper,
	ErrorHandler: sessionDefaultError,
}

func sessionDefaultError(_ echo.Context, err error) error {
	return echo.NewHTTPError(http.StatusInternalServerError).WithInternal(err)
}

// Session returns the session middleware for m with the default config.
func Session(m session.Starter) echo.MiddlewareFunc {
	c := DefaultSessionConfig
	c.Manager = m
	return SessionWithConfig(c)
}

// SessionWithConfig returns the session middleware; it panics on a bad
// config (use [SessionConfig.ToMiddleware] to get an error instead).
//
// The session is loaded lazily on the handler's first access and committed
// (KV write and Set-Cookie) before the first byte of the response, also
// when the handler streams or flushes. The request's context carries it, so
// handlers reach it with m.FromContext(c.Request().Context()) or
// [SessionFrom].
func SessionWithConfig(config SessionConfig) echo.MiddlewareFunc {
	mw, err := config.ToMiddleware()
	if err != nil {
		panic(err)
	}
	return mw
}

// ToMiddleware validates config and returns the session middleware.
func (config SessionConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if config.Manager == nil {
		return nil, invalidConfig("SessionConfig.Manager is required")
	}
	if config.Skipper == nil {
		config.Skipper = DefaultSessionConfig.Skipper
	}
	if config.ErrorHandler == nil {
		config.ErrorHandler = DefaultSessionConfig.ErrorHandler
	}
	cfg := &config // the closure Echo allocates per request holds a pointer, not the config
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			p := cfg.Manager.Start(c.Request())
			ctx := p.Context()
			res := c.Response()
			sw := sessionhttp.For(ctx)
			c.SetRequest(sw.Bind(res.Writer, c.Request(), ctx, p, sessionPlainError))
			// Left in place after next returns: Echo's error handler may
			// still write the response, and must commit first.
			res.Writer = sw
			err := next(c)
			if cerr := sw.Err(); cerr != nil {
				// The commit failed as the handler started writing: a plain
				// 500 replaced its response. Report it upstream for logging.
				return sessionDefaultError(c, cerr)
			}
			if err != nil {
				return err // Echo's error handler commits as it writes
			}
			if !sw.Committed() {
				if err := sw.Commit(); err != nil {
					return cfg.ErrorHandler(c, err)
				}
			}
			return nil
		}
	}, nil
}

func sessionPlainError(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// SessionFrom returns the request's session for m, or nil (whose methods
// return session.ErrNoMiddleware) when the request did not pass through the
// session middleware for m. It is m.FromContext(c.Request().Context()).
func SessionFrom[T any](c echo.Context, m *session.Manager[T]) *session.Session[T] {
	return m.FromContext(c.Request().Context())
}
