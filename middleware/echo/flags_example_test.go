package kvecho_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v4"

	"github.com/kvkit/kvkit/kv/memory"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/patterns/flags"
)

func ExampleFlags() {
	fl, err := flags.New(memory.New(memory.Options{}), flags.Options{})
	if err != nil {
		panic(err)
	}
	_ = fl.Set(context.Background(), "new-ui", flags.Flag{Enabled: true, Allowlist: []string{"alice"}})

	e := echo.New()
	// Where the user ID comes from is up to you: a session, a header, a cookie.
	e.Use(kvecho.Flags(fl, func(c echo.Context) string { return c.Request().Header.Get("X-User-ID") }))
	e.GET("/", func(c echo.Context) error {
		if kvecho.FlagsFrom(c).IsEnabled("new-ui") {
			return c.String(http.StatusOK, "new UI\n")
		}
		return c.String(http.StatusOK, "old UI\n")
	})
	// Served only to users who have the flag; 404 for the others.
	e.GET("/beta", func(c echo.Context) error {
		return c.String(http.StatusOK, "beta page\n")
	}, kvecho.FlagGate("new-ui"))

	for _, req := range []struct{ path, user string }{{"/", "alice"}, {"/", "bob"}, {"/beta", "alice"}, {"/beta", "bob"}} {
		r := httptest.NewRequest("GET", req.path, nil)
		r.Header.Set("X-User-ID", req.user)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		fmt.Print(req.path, " ", req.user, ": ", w.Code, " ", w.Body.String())
	}
	// Output:
	// / alice: 200 new UI
	// / bob: 200 old UI
	// /beta alice: 200 beta page
	// /beta bob: 404 {"message":"Not Found"}
}
