package nethttp_test

import (
	"net/http"
	"testing"

	"github.com/kvkit/kvkit/middleware/internal/hostiletest"
	"github.com/kvkit/kvkit/middleware/nethttp"
)

func TestHostileClients(t *testing.T) {
	t.Parallel()
	hostiletest.Run(t, func(t *testing.T, l hostiletest.Layers, order []hostiletest.Layer, app http.Handler) http.Handler {
		h := app
		for i := len(order) - 1; i >= 0; i-- {
			switch order[i] {
			case hostiletest.Session:
				h = nethttp.Session(l.Sessions)(h)
			case hostiletest.Cache:
				h = nethttp.Cache(l.Cache)(h)
			case hostiletest.Flags:
				h = nethttp.Flags(l.Flags, l.UserID)(h)
			case hostiletest.RateLimit:
				h = nethttp.RateLimit(l.Limiter, l.Key)(h)
			}
		}
		return h
	})
}
