// Package kvecho adapts kvkit's patterns to Echo v4 (github.com/labstack/echo/v4),
// following Echo's conventions: an XConfig struct with a Skipper, a
// DefaultXConfig, X(required) and XWithConfig(config) constructors, and
// errors returned as *echo.HTTPError with Internal set.
//
// Per-request state is kept in the request's context.Context (the Echo
// middleware calls c.SetRequest), so the same getters work from net/http and
// Echo handlers. Import it with its name written out:
//
//	kvecho "github.com/kvkit/kvkit/middleware/echo"
package kvecho
