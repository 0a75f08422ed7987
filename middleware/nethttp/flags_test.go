package nethttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kvkit/kvkit/middleware/internal/flagstest"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/flags"
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
