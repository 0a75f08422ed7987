package nethttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/internal/flagstest"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/flags"
	"github.com/kvkit/kvkit/patterns/session"
)

func flagsHandler(c *flags.Client, tc flagstest.Case) http.Handler {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, flagstest.Body(nethttp.FlagsFrom(r), tc.Check))
	})
	if tc.Gate != "" {
		cfg := nethttp.FlagGateConfig{Flag: tc.Gate}
		if tc.CustomDenied {
			cfg.DenyHandler = func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(flagstest.DeniedStatus)
				_, _ = io.WriteString(w, flagstest.DeniedBody)
			}
		}
		h = nethttp.FlagGateWithConfig(cfg)(h)
	}
	if !tc.NoEvaluator {
		h = nethttp.Flags(c, func(r *http.Request) string { return r.Header.Get(flagstest.Header) })(h)
	}
	return h
}

func TestFlagsSharedTable(t *testing.T) {
	t.Parallel()
	c, ns := flagstest.NewClient(t)
	for range 3 { // repeated requests must not read KV again
		for _, tc := range flagstest.Cases() {
			t.Run(tc.Name, func(t *testing.T) {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				if tc.User != "" {
					req.Header.Set(flagstest.Header, tc.User)
				}
				rec := httptest.NewRecorder()
				flagsHandler(c, tc).ServeHTTP(rec, req)
				assert.Equal(t, tc.WantStatus, rec.Code)
				if tc.WantBody != "" {
					assert.Equal(t, tc.WantBody, rec.Body.String())
				}
			})
		}
	}
	assert.Equal(t, flagstest.KVCalls, ns.Counts())
}

func TestFlagsPanicsOnMissingArguments(t *testing.T) {
	t.Parallel()
	c, _ := flagstest.NewClient(t)
	assert.Panics(t, func() { nethttp.Flags(nil, func(*http.Request) string { return "" }) })
	assert.Panics(t, func() { nethttp.Flags(c, nil) })
	assert.Panics(t, func() { nethttp.FlagGate("") })
}

// Behind a Session the request has a kvkit mark, and Flags binds the
// evaluator to it instead of copying the request: the shared table gives
// the same answers either way.
func TestFlagsSharedTableBehindSession(t *testing.T) {
	t.Parallel()
	c, _ := flagstest.NewClient(t)
	m := session.Must(session.New[string](memory.New(memory.Options{}), session.Options{}))
	for _, tc := range flagstest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.User != "" {
				req.Header.Set(flagstest.Header, tc.User)
			}
			rec := httptest.NewRecorder()
			nethttp.Session(m)(flagsHandler(c, tc)).ServeHTTP(rec, req)
			assert.Equal(t, tc.WantStatus, rec.Code)
			if tc.WantBody != "" {
				assert.Equal(t, tc.WantBody, rec.Body.String())
			}
		})
	}
}

// A second Flags further in, and an evaluator a handler puts in the context
// itself, win inside; the outer handler keeps its own after the inner one
// returns. Without a mark, with one (a Session outside both), and with a
// Session between them (the outer evaluator in the context, the inner one
// on the mark the Session makes).
func TestFlagsNested(t *testing.T) {
	t.Parallel()
	c, _ := flagstest.NewClient(t)
	m := session.Must(session.New[string](memory.New(memory.Options{}), session.Options{}))
	for _, layout := range []string{"no session", "session outside", "session between"} {
		var got []string
		seen := func(r *http.Request) { got = append(got, nethttp.FlagsFrom(r).UserID()) }
		inner := nethttp.Flags(c, func(*http.Request) string { return "inner" })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen(r)
			own := c.For(r.Context(), "own")
			seen(r.WithContext(flags.NewContext(r.Context(), own)))
			seen(r)
		}))
		if layout == "session between" {
			inner = nethttp.Session(m)(inner)
		}
		var h http.Handler = nethttp.Flags(c, func(*http.Request) string { return "outer" })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen(r)
			inner.ServeHTTP(w, r)
			seen(r)
		}))
		if layout == "session outside" {
			h = nethttp.Session(m)(h)
		}
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Equal(t, []string{"outer", "inner", "own", "inner", "outer"}, got, layout)
	}
}

// The handler's goroutines read the bound evaluator while it runs.
func TestFlagsEvaluatorFromGoroutines(t *testing.T) {
	t.Parallel()
	c, _ := flagstest.NewClient(t)
	m := session.Must(session.New[string](memory.New(memory.Options{}), session.Options{}))
	h := nethttp.Session(m)(nethttp.Flags(c, func(*http.Request) string { return "alice" })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				assert.True(t, flags.FromContext(r.Context()).IsEnabled("beta"))
			})
		}
		wg.Wait()
	})))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil)) })
	}
	wg.Wait()
}
