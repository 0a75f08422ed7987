// Package kvecho adapts kvkit's patterns to Echo v4 (github.com/labstack/echo/v4),
// following Echo's conventions: an XConfig struct with a Skipper, a
// DefaultXConfig, X(required) and XWithConfig(config) constructors,
// XConfig.ToMiddleware for setup that returns an error instead of
// panicking, and errors returned as *echo.HTTPError with Internal set. It
// mirrors package nethttp name for name.
//
// Per-request state is kept in the request's context.Context (the Echo
// middleware calls c.SetRequest), so the same getters work from net/http and
// Echo handlers. Import it with its name written out:
//
//	kvecho "github.com/kvkit/kvkit/middleware/echo"
package kvecho

// kvechoError is the type of the package's sentinel errors.
type kvechoError string

func (e kvechoError) Error() string { return string(e) }

// ErrInvalidConfig is wrapped by the error of ToMiddleware (and the panic of
// XWithConfig) for a config without its required fields.
const ErrInvalidConfig kvechoError = "kvecho: invalid middleware config"

func invalidConfig(msg string) error { return &configError{msg} }

type configError struct{ msg string }

func (e *configError) Error() string { return string(ErrInvalidConfig) + ": " + e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }
