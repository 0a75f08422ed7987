package nethttp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/session"
)

// ExampleSession signs a user in, then reads the session on the next
// request. Swap memory.New for the Cloudflare backend in production.
func ExampleSession() {
	type User struct {
		ID   string `json:"id"`
		Role string `json:"role"`
	}
	ns := memory.New(memory.Options{})
	sessions := session.Must(session.New[User](ns, session.Options{}))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		// A new token on sign-in defeats session fixation.
		if err := s.Renew(r.Context()); err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
		if err := s.Set(r.Context(), User{ID: "u42", Role: "admin"}); err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "signed in")
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := sessions.FromContext(r.Context()).Get(r.Context())
		switch {
		case err != nil:
			http.Error(w, "session unavailable", http.StatusInternalServerError)
		case !ok:
			http.Error(w, "sign in first", http.StatusUnauthorized)
		default:
			fmt.Fprintf(w, "hello %s (%s)\n", u.ID, u.Role)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		_ = sessions.FromContext(r.Context()).Destroy(r.Context())
		fmt.Fprintln(w, "signed out")
	})
	handler := nethttp.Session(sessions)(mux)
	// In a real program: http.ListenAndServe(":8080", handler)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	cookie := rec.Result().Cookies()[0]
	fmt.Print(rec.Body.String())
	fmt.Println(cookie.Name, cookie.HttpOnly, cookie.Secure, cookie.MaxAge)

	req := httptest.NewRequest("GET", "/me", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Print(rec.Body.String())
	// Output:
	// signed in
	// session true true 86400
	// hello u42 (admin)
}
