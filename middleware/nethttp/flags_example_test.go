package nethttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/flags"
)

func ExampleFlags() {
	fl, err := flags.New(memory.New(memory.Options{}), flags.Options{})
	if err != nil {
		panic(err)
	}
	_ = fl.Set(context.Background(), "new-ui", flags.Flag{Enabled: true, Allowlist: []string{"alice"}})

	// Where the user ID comes from is up to you: a session, a header, a cookie.
	userID := func(r *http.Request) string { return r.Header.Get("X-User-ID") }

	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if nethttp.FlagsFrom(r).IsEnabled("new-ui") {
			fmt.Fprintln(w, "new UI")
			return
		}
		fmt.Fprintln(w, "old UI")
	})
	// Served only to users who have the flag; 404 for the others.
	mux.Handle("GET /beta", nethttp.FlagGate("new-ui")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "beta page") })))
	handler := nethttp.Flags(fl, userID)(mux)

	for _, req := range []struct{ path, user string }{{"/", "alice"}, {"/", "bob"}, {"/beta", "alice"}, {"/beta", "bob"}} {
		r := httptest.NewRequest("GET", req.path, nil)
		r.Header.Set("X-User-ID", req.user)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Print(req.path, " ", req.user, ": ", w.Code, " ", w.Body.String())
	}
	// Output:
	// / alice: 200 new UI
	// / bob: 200 old UI
	// /beta alice: 200 beta page
	// /beta bob: 404 404 page not found
}
