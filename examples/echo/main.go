// Command echo is kvkit's demo web app on Echo v4: the same pages and
// behaviour as examples/nethttp, wired with kvkit's native Echo middleware.
//
//	go run ./examples/echo                      # http://127.0.0.1:8080
//	go run ./examples/echo -addr 127.0.0.1:9000 -backend local
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/labstack/echo/v4"

	"github.com/kvkit/kvkit/examples/internal/demo"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/patterns/counter"
)

const framework = "Echo"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves the app until ctx ends, then shuts down gracefully (flushing the
// counters). ready, when not nil, receives the base URL once listening.
func run(ctx context.Context, args []string, stdout io.Writer, ready chan<- string) error {
	return demo.Serve(ctx, args, stdout, ready, framework, routes)
}

// routes builds the Echo app. demo.Serve owns the http.Server; Echo is the
// handler.
func routes(a *demo.App) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = textErrors
	// The slow page is the same for everyone: it skips the per-user
	// middleware, so the cache may share it with signed-in visitors too
	// (a page rendered after reading a visitor's session never is).
	public := func(c echo.Context) bool { return c.Path() == "/slow" }
	e.Use(kvecho.SessionWithConfig(kvecho.SessionConfig{Manager: a.Sessions, Skipper: public}))
	e.Use(kvecho.FlagsWithConfig(kvecho.FlagsConfig{
		Client: a.Flags, UserID: func(c echo.Context) string { return a.UserID(c.Request()) }, Skipper: public,
	}))

	e.GET("/", func(c echo.Context) error {
		d, err := a.Home(c.Request(), framework, kvecho.FlagsFrom(c))
		return render(c, a, http.StatusOK, "home", d, err)
	})
	e.GET("/flags", func(c echo.Context) error {
		d, err := a.FlagsPage(c.Request(), framework)
		return render(c, a, http.StatusOK, "flags", d, err)
	})
	e.GET("/cache", func(c echo.Context) error {
		d, err := a.CachePage(c.Request(), framework)
		return render(c, a, http.StatusOK, "cache", d, err)
	})
	e.POST("/signin", func(c echo.Context) error {
		name, err := demo.SignInName(c.FormValue("name"))
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		if err := a.SignIn(c.Request(), name); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})
	e.POST("/signout", func(c echo.Context) error {
		if err := a.SignOut(c.Request()); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})

	// The slow page sits behind the response cache.
	e.GET("/slow", func(c echo.Context) error {
		d, err := a.Slow(c.Request().Context(), framework)
		c.Response().Header().Set("Cache-Control", demo.SlowCacheControl)
		return render(c, a, http.StatusOK, "slow", d, err)
	}, kvecho.Cache(a.Responses))

	// The API sits behind the rate limit, keyed by client IP.
	e.GET("/api/hello", func(c echo.Context) error {
		return c.JSON(http.StatusOK, demo.APIHello(a.UserID(c.Request())))
	}, kvecho.RateLimitWithConfig(kvecho.RateLimitConfig{
		Limiter: a.Limiter,
		KeyFunc: httpkey.ByIP(httpkey.IPConfig{}),
		DenyHandler: func(c echo.Context, res counter.Result) error {
			return c.JSON(http.StatusTooManyRequests, demo.APILimited(res))
		},
	}))
	return e
}

func render(c echo.Context, a *demo.App, code int, name string, data any, err error) error {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return echo.NewHTTPError(499).SetInternal(err)
		}
		return err // Echo's error handler answers 500 without details
	}
	var buf bytes.Buffer
	if err := a.Render(&buf, name, data); err != nil {
		return err
	}
	return c.HTMLBlob(code, buf.Bytes())
}

// textErrors answers errors as the net/http app does (http.Error: text/plain,
// the message and a newline) instead of Echo's default JSON, so clients see
// the same bodies from both apps. Details of 5xx errors stay in the log.
func textErrors(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, ""
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		if s, ok := he.Message.(string); ok && code < 500 {
			msg = s
		}
	}
	switch {
	case code == http.StatusNotFound:
		msg = demo.NotFoundBody
	case msg == "" || msg == http.StatusText(code):
		msg = fmt.Sprintf("%d %s", code, http.StatusText(code))
	}
	if code >= 500 {
		c.Logger().Error(err)
	}
	http.Error(c.Response(), msg, code)
}
