package nethttp_test

import (
	"net/http"
	"testing"

	"github.com/kvkit/kvkit/middleware/internal/cachetest"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/cache"
)

func cacheBuild(t *testing.T, rc *cache.ResponseCache, origin http.Handler) http.Handler {
	return nethttp.Cache(rc)(origin)
}

func TestCache(t *testing.T) {
	t.Parallel()
	cachetest.Run(t, cacheBuild)
}
