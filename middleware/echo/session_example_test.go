package kvecho_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v4"

	"github.com/kvkit/kvkit/kv/memory"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/patterns/session"
)

// ExampleSession signs a user in, then reads the session on the next
// request, in Echo.
func ExampleSession() {
	type User struct {
		ID   string `json:"id"`
		Role string `json:"role"`
	}
	ns := memory.New(memory.Options{})
	sessions := session.Must(session.New[User](ns, session.Options{}))

	e := echo.New()
	e.Use(kvecho.Session(sessions))
	e.POST("/login", func(c echo.Context) error {
		s := kvecho.SessionFrom(c, sessions)
		ctx := c.Request().Context()
		if err := s.Renew(ctx); err != nil { // no session fixation
			return err
		}
		if err := s.Set(ctx, User{ID: "u42", Role: "admin"}); err != nil {
			return err
		}
		return c.String(http.StatusOK, "signed in\n")
	})
	e.GET("/me", func(c echo.Context) error {
		u, ok, err := kvecho.SessionFrom(c, sessions).Get(c.Request().Context())
		if err != nil {
			return err
		}
		if !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "sign in first")
		}
		return c.String(http.StatusOK, fmt.Sprintf("hello %s (%s)\n", u.ID, u.Role))
	})
	// In a real program: e.Logger.Fatal(e.Start(":8080"))

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	cookie := rec.Result().Cookies()[0]
	fmt.Print(rec.Body.String())

	req := httptest.NewRequest("GET", "/me", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	fmt.Print(rec.Body.String())
	// Output:
	// signed in
	// hello u42 (admin)
}
