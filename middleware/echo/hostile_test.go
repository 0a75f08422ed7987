package kvecho_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/middleware/internal/hostiletest"
)

func TestHostileClients(t *testing.T) {
	t.Parallel()
	hostiletest.Run(t, func(t *testing.T, l hostiletest.Layers, order []hostiletest.Layer, app http.Handler) http.Handler {
		e := echo.New()
		for _, layer := range order {
			switch layer {
			case hostiletest.Session:
				e.Use(kvecho.Session(l.Sessions))
			case hostiletest.Cache:
				e.Use(kvecho.Cache(l.Cache))
			case hostiletest.Flags:
				e.Use(kvecho.Flags(l.Flags, func(c echo.Context) string { return l.UserID(c.Request()) }))
			case hostiletest.RateLimit:
				e.Use(kvecho.RateLimit(l.Limiter, l.Key))
			}
		}
		e.Any("/*", echo.WrapHandler(app))
		return e
	})
}
