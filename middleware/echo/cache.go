package kvecho

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/kvkit/kvkit/patterns/cache"
)

// CacheConfig configures the response-cache middleware.
type CacheConfig struct {
	// Skipper defines a function to skip middleware.
	// Optional. Default value middleware.DefaultSkipper.
	Skipper middleware.Skipper
	// Cache is the response cache to serve from. Required.
	Cache *cache.ResponseCache
}

// DefaultCacheConfig is the default response-cache middleware config.
var DefaultCacheConfig = CacheConfig{Skipper: middleware.DefaultSkipper}

// Cache returns middleware that serves GET and HEAD responses from rc and
// stores the handler's responses when RFC 9111's shared-cache rules allow
// (see cache.ResponseCache.Serve). A handler error is returned to Echo
// (and its response not stored), unless a stale response answers in its
// place (stale-if-error). It panics if rc is nil.
//
// A HEAD miss runs the handler with the request's method set to GET (so
// that the GET response is stored); c.Request().Method is HEAD again when
// the middleware returns.
//
// A background refresh (stale-while-revalidate) outlives the request that
// started it and its pooled echo.Context, so it runs next in a new
// echo.Context of the same Echo, with the route's path and parameter
// names and values, and a GET clone of that request (its header, and its
// context's values without its cancellation; cache.IsRefresh reports true
// for that context). It carries no c.Set value: what middleware outside
// this one (registered before it) put there, a user set by an
// authentication middleware say, is absent (c.Get returns nil), while
// middleware inside it (registered after it, or on the route) runs again
// in the refresh and sets its values anew. A handler that needs a value
// from outside should take it from the request or its context.
func Cache(rc *cache.ResponseCache) echo.MiddlewareFunc {
	c := DefaultCacheConfig
	c.Cache = rc
	return CacheWithConfig(c)
}

// CacheWithConfig returns the response-cache middleware with config. It
// panics if config.Cache is nil.
func CacheWithConfig(config CacheConfig) echo.MiddlewareFunc {
	mw, err := config.ToMiddleware()
	if err != nil {
		panic(err)
	}
	return mw
}

// ToMiddleware converts config to middleware, or returns an error for an
// invalid config.
func (config CacheConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if config.Cache == nil {
		return nil, invalidConfig("CacheConfig.Cache is required")
	}
	if config.Skipper == nil {
		config.Skipper = DefaultCacheConfig.Skipper
	}
	cfg := &config // the closure Echo allocates per request holds a pointer, not the config
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			res := c.Response()
			if cfg.Cache.ServeFresh(res, c.Request()) { // hot path: nothing to set up
				return nil
			}
			out := &cacheEchoWriter{res: res, w: res.Writer, count: true}
			return cfg.Cache.Serve(out, c.Request(), cacheOrigin(c, next, out))
		}
	}, nil
}

// cacheOrigin runs next for the cache: in the request's own echo.Context,
// or, for a background refresh (which outlives the request and its pooled
// context), in a new context with the same route and parameters.
func cacheOrigin(c echo.Context, next echo.HandlerFunc, out *cacheEchoWriter) cache.Origin {
	e, path, names := c.Echo(), c.Path(), c.ParamNames()
	var values []string
	if len(names) > 0 {
		values = slices.Clone(c.ParamValues())
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		if cache.IsRefresh(r.Context()) {
			ec := e.NewContext(r, w)
			ec.SetPath(path)
			ec.SetParamNames(names...)
			ec.SetParamValues(values...)
			return next(ec)
		}
		res := c.Response()
		res.Writer = w
		out.count = false // echo.Response counts what the handler writes
		method := c.Request().Method
		defer func() {
			res.Writer = out.w
			if req := c.Request(); req.Method != method { // a HEAD run as a GET
				req = req.WithContext(req.Context())
				req.Method = method
				c.SetRequest(req)
			}
		}()
		c.SetRequest(r)
		return next(c)
	}
}

// cacheEchoWriter is what the cache writes the response to: the writer
// under echo.Response, keeping the Response's Status, Committed and Size
// right for the middleware around this one (loggers).
type cacheEchoWriter struct {
	res   *echo.Response
	w     http.ResponseWriter
	count bool
}

func (w *cacheEchoWriter) Header() http.Header { return w.w.Header() }

func (w *cacheEchoWriter) WriteHeader(code int) {
	w.w.WriteHeader(code)
	w.res.Status, w.res.Committed = code, true
}

func (w *cacheEchoWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if w.count {
		w.res.Size += int64(n)
	}
	return n, err
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *cacheEchoWriter) Unwrap() http.ResponseWriter { return w.w }
