package nethttp

import (
	"net/http"

	"github.com/kvkit/kvkit/patterns/cache"
)

// CacheConfig configures CacheWithConfig.
type CacheConfig struct {
	// Cache is the response cache to serve from. Required.
	Cache *cache.ResponseCache
	// Skip, when set, sends the requests for which it returns true straight
	// to the handler, uncached. Default: nil (no request is skipped).
	Skip func(r *http.Request) bool
}

// Cache returns middleware that serves GET and HEAD responses from rc and
// stores the handler's responses when RFC 9111's shared-cache rules allow
// (see cache.ResponseCache.Serve). It panics if rc is nil.
func Cache(rc *cache.ResponseCache) func(http.Handler) http.Handler {
	return CacheWithConfig(CacheConfig{Cache: rc})
}

// CacheWithConfig is Cache with options. It panics if cfg.Cache is nil.
func CacheWithConfig(cfg CacheConfig) func(http.Handler) http.Handler {
	if cfg.Cache == nil {
		panic("nethttp: CacheWithConfig requires a Cache")
	}
	rc, skip := cfg.Cache, cfg.Skip
	return func(next http.Handler) http.Handler {
		origin := func(w http.ResponseWriter, r *http.Request) error {
			next.ServeHTTP(w, r)
			return nil
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skip != nil && skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			_ = rc.Serve(w, r, origin) // the only error is the client giving up
		})
	}
}
