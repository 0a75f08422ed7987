package kvecho_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/middleware/internal/flagstest"
	"github.com/kvkit/kvkit/patterns/flags"
	"github.com/kvkit/kvkit/patterns/session"
)

func flagsUserID(c echo.Context) string { return c.Request().Header.Get(flagstest.Header) }

func flagsEcho(c *flags.Client, tc flagstest.Case) *echo.Echo {
	e := echo.New()
	if !tc.NoEvaluator {
		e.Use(kvecho.Flags(c, flagsUserID))
	}
	var mws []echo.MiddlewareFunc
	if tc.Gate != "" {
		cfg := kvecho.DefaultFlagGateConfig
		cfg.Flag = tc.Gate
		if tc.CustomDenied {
			cfg.DenyHandler = func(c echo.Context) error { return c.String(flagstest.DeniedStatus, flagstest.DeniedBody) }
		}
		mws = append(mws, kvecho.FlagGateWithConfig(cfg))
	}
	e.GET("/", func(ec echo.Context) error {
		return ec.String(http.StatusOK, flagstest.Body(kvecho.FlagsFrom(ec), tc.Check))
	}, mws...)
	return e
}

func TestFlagsSharedTable(t *testing.T) {
	t.Parallel()
	c, ns := flagstest.NewClient(t)
	for range 3 {
		for _, tc := range flagstest.Cases() {
			t.Run(tc.Name, func(t *testing.T) {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				if tc.User != "" {
					req.Header.Set(flagstest.Header, tc.User)
				}
				rec := httptest.NewRecorder()
				flagsEcho(c, tc).ServeHTTP(rec, req)
				assert.Equal(t, tc.WantStatus, rec.Code)
				if tc.WantBody != "" {
					assert.Equal(t, tc.WantBody, rec.Body.String())
				}
			})
		}
	}
	assert.Equal(t, flagstest.KVCalls, ns.Counts())
}

func TestFlagsSkippers(t *testing.T) {
	t.Parallel()
	c, _ := flagstest.NewClient(t)
	skip := func(echo.Context) bool { return true }
	e := echo.New()
	e.Use(kvecho.FlagsWithConfig(kvecho.FlagsConfig{Skipper: skip, Client: c, UserID: flagsUserID}))
	e.GET("/", func(ec echo.Context) error {
		return ec.String(http.StatusOK, flagstest.Body(kvecho.FlagsFrom(ec), "everyone"))
	}, kvecho.FlagGateWithConfig(kvecho.FlagGateConfig{Skipper: skip, Flag: "beta"}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(flagstest.Header, "bob")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code, "a skipped gate serves the route")
	assert.Equal(t, ":off:", rec.Body.String(), "a skipped Flags binds no evaluator")
}

func TestFlagsEvaluatorSharedWithNetHTTPGetters(t *testing.T) {
	t.Parallel()
	c, _ := flagstest.NewClient(t)
	e := echo.New()
	e.Use(kvecho.Flags(c, flagsUserID))
	e.GET("/", func(ec echo.Context) error {
		// Code written against the context works under Echo too.
		return ec.String(http.StatusOK, flagstest.Body(flags.FromContext(ec.Request().Context()), "beta"))
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(flagstest.Header, "alice")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	assert.Equal(t, "alice:on:", rec.Body.String())
}

func TestFlagsConfigErrors(t *testing.T) {
	t.Parallel()
	c, _ := flagstest.NewClient(t)
	_, err := kvecho.FlagsConfig{UserID: flagsUserID}.ToMiddleware()
	require.Error(t, err)
	_, err = kvecho.FlagsConfig{Client: c}.ToMiddleware()
	require.Error(t, err)
	_, err = kvecho.FlagGateConfig{}.ToMiddleware()
	require.Error(t, err)
	assert.Panics(t, func() { kvecho.FlagGate("") })
	assert.Panics(t, func() { kvecho.Flags(nil, flagsUserID) })
	mw, err := kvecho.FlagsConfig{Client: c, UserID: flagsUserID}.ToMiddleware()
	require.NoError(t, err)
	assert.NotNil(t, mw)
}

// Behind a Session the request has a kvkit mark, and Flags binds the
// evaluator to it instead of copying the request: the shared table gives
// the same answers either way.
func TestFlagsSharedTableBehindSession(t *testing.T) {
	t.Parallel()
	c, _ := flagstest.NewClient(t)
	m := session.Must(session.New[string](sessionCounting(), session.Options{}))
	for _, tc := range flagstest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			e := flagsEcho(c, tc)
			e.Pre(kvecho.Session(m)) // outside Flags, which e.Use added
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.User != "" {
				req.Header.Set(flagstest.Header, tc.User)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			assert.Equal(t, tc.WantStatus, rec.Code)
			if tc.WantBody != "" {
				assert.Equal(t, tc.WantBody, rec.Body.String())
			}
		})
	}
}

// A second Flags further in, and an evaluator a handler puts in the context
// itself, win inside; the outer middleware keeps its own after the inner one
// returns. Without a mark, with one (a Session outside both), and with a
// Session between them (the outer evaluator in the context, the inner one
// on the mark the Session makes).
func TestFlagsNested(t *testing.T) {
	t.Parallel()
	c, _ := flagstest.NewClient(t)
	m := session.Must(session.New[string](sessionCounting(), session.Options{}))
	for _, layout := range []string{"no session", "session outside", "session between"} {
		var got []string
		seen := func(ec echo.Context) { got = append(got, kvecho.FlagsFrom(ec).UserID()) }
		e := echo.New()
		if layout == "session outside" {
			e.Use(kvecho.Session(m))
		}
		e.Use(kvecho.Flags(c, func(echo.Context) string { return "outer" }))
		e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(ec echo.Context) error {
				seen(ec)
				r := ec.Request()
				err := next(ec)
				ec.SetRequest(r) // as a middleware that restores the request
				seen(ec)
				return err
			}
		})
		if layout == "session between" {
			e.Use(kvecho.Session(m))
		}
		e.Use(kvecho.Flags(c, func(echo.Context) string { return "inner" }))
		e.GET("/", func(ec echo.Context) error {
			seen(ec)
			r := ec.Request()
			ec.SetRequest(r.WithContext(flags.NewContext(r.Context(), c.For(r.Context(), "own"))))
			seen(ec)
			ec.SetRequest(r)
			seen(ec)
			return ec.NoContent(http.StatusOK)
		})
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Equal(t, []string{"outer", "inner", "own", "inner", "outer"}, got, layout)
	}
}
