package nethttp

import (
	"net/http"

	"github.com/kvkit/kvkit/patterns/cache"
)

// CacheConfig configures the Cache middleware.
type CacheConfig struct {
	// Skipper sends some requests straight to the handler, uncached.
	// Optional. Default: DefaultSkipper.
	Skipper Skipper
	// Cache is the response cache to serve from. Required.
	Cache *cache.ResponseCache
}

// DefaultCacheConfig is the default Cache middleware config.
var DefaultCacheConfig = CacheConfig{Skipper: DefaultSkipper}

// Cache returns middleware that serves GET and HEAD responses from rc and
// stores the handler's responses when RFC 9111's shared-cache rules allow
// (see cache.ResponseCache.Serve). It panics if rc is nil.
func Cache(rc *cache.ResponseCache) func(http.Handler) http.Handler {
	c := DefaultCacheConfig
	c.Cache = rc
	return CacheWithConfig(c)
}

// CacheWithConfig returns the Cache middleware with config. It panics on a
// bad config (see [CacheConfig.ToMiddleware] for an error instead).
func CacheWithConfig(config CacheConfig) func(http.Handler) http.Handler {
	return mustMiddleware(config.ToMiddleware())
}

// ToMiddleware validates config and returns the Cache middleware.
func (config CacheConfig) ToMiddleware() (func(http.Handler) http.Handler, error) {
	if config.Cache == nil {
		return nil, invalidConfig("CacheConfig.Cache is required")
	}
	if config.Skipper == nil {
		config.Skipper = DefaultCacheConfig.Skipper
	}
	rc, skip := config.Cache, config.Skipper
	return func(next http.Handler) http.Handler {
		origin := func(w http.ResponseWriter, r *http.Request) error {
			next.ServeHTTP(w, r)
			return nil
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			_ = rc.Serve(w, r, origin) // the only error is the client giving up
		})
	}, nil
}
