// Package dashboard is the local web dashboard `kvkit serve` shows at "/":
// namespaces, keys by prefix with paging, a value viewer (text, pretty
// JSON, or size and hex for binary), metadata and expiration, put, edit
// and delete, and views that know kvkit's patterns: flag definitions with
// an editable rollout and a "which bucket is this user in" box, counters,
// and live sessions with their expiry (never a token).
//
// Reads go straight to the server's memory namespaces. Writes go through
// the server's own REST API handler, in process, so bad input gets exactly
// the error the API gives (and the API stores nothing for a rejected
// request). Flag edits go through patterns/flags, which validates them as
// `kvkit flags set` does.
//
// It is plain server-side HTML (html/template) with a little script, all
// embedded: no build step. When a token is configured, every page needs
// it: a login form checks it and sets an HttpOnly, SameSite=Strict cookie
// (an HMAC of the token, never the token itself), or a script sends
// "Authorization: Bearer <token>". Unsafe requests from other origins are
// refused (http.CrossOriginProtection).
package dashboard

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/kv/memory"
)

//go:embed templates/*.html static/*
var files embed.FS

// Options configures the dashboard.
type Options struct {
	// Token, when set, is required to see any page (the server's API
	// token). Default: "" (open, for a server on loopback).
	Token string
	// AccountID is the account ID in the API paths the dashboard calls.
	// Default: kvserver.DefaultAccountID.
	AccountID string
	// Clock returns the current time (expirations, sessions). Default:
	// time.Now.
	Clock func() time.Time
	// Logger receives failures of the dashboard's own. Default: discard.
	Logger *slog.Logger
}

// cookieName is the dashboard's login cookie.
const cookieName = "kvkit_dashboard"

// Dashboard is the dashboard's http.Handler.
type Dashboard struct {
	srv   *kvserver.Server
	opts  Options
	pages map[string]*template.Template
	mux   *http.ServeMux
	h     http.Handler
}

// New returns the dashboard for srv.
func New(srv *kvserver.Server, opts Options) (*Dashboard, error) {
	if opts.AccountID == "" {
		opts.AccountID = kvserver.DefaultAccountID
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dashboard{srv: srv, opts: opts, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if name == "templates/layout.html" || name == "templates/putform.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(d.funcs()).ParseFS(files, "templates/layout.html", "templates/putform.html", name)
		if err != nil {
			return nil, err
		}
		d.pages[strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")] = t
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	d.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	d.mux.HandleFunc("GET /login", d.loginPage)
	d.mux.HandleFunc("POST /login", d.login)
	d.mux.HandleFunc("POST /logout", d.logout)
	d.route("GET /{$}", d.namespacesPage)
	d.route("POST /namespaces", d.createNamespace)
	d.route("POST /ns/{id}/delete", d.deleteNamespace)
	d.route("GET /ns/{id}", d.keysPage)
	d.route("GET /ns/{id}/key", d.keyPage)
	d.route("POST /ns/{id}/put", d.putKey)
	d.route("POST /ns/{id}/delete-key", d.deleteKey)
	d.route("GET /ns/{id}/flags", d.flagsPage)
	d.route("POST /ns/{id}/flags", d.setFlag)
	d.route("GET /ns/{id}/counters", d.countersPage)
	d.route("GET /ns/{id}/sessions", d.sessionsPage)
	d.h = http.NewCrossOriginProtection().Handler(d.mux)
	return d, nil
}

// ServeHTTP implements http.Handler.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	d.h.ServeHTTP(w, r)
}

// route registers a handler that needs the token (when one is set).
func (d *Dashboard) route(pattern string, h http.HandlerFunc) {
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !d.authorized(r) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			d.render(w, http.StatusUnauthorized, "login", loginData{Error: "Sign in with the server's token first."})
			return
		}
		h(w, r)
	})
}

// --- authentication ---

// cookieValue is what the login cookie holds: an HMAC of the token, so the
// cookie never carries the token itself and changes with it.
func (d *Dashboard) cookieValue() string {
	m := hmac.New(sha256.New, []byte(d.opts.Token))
	m.Write([]byte("kvkit dashboard login"))
	return hex.EncodeToString(m.Sum(nil))
}

func (d *Dashboard) authorized(r *http.Request) bool {
	if d.opts.Token == "" {
		return true
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(tok), []byte(d.opts.Token)) == 1
	}
	c, err := r.Cookie(cookieName)
	return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(d.cookieValue())) == 1
}

type loginData struct {
	page
	Next  string
	Error string
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if d.authorized(r) {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	d.render(w, http.StatusOK, "login", loginData{Next: next})
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	if d.opts.Token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("token")), []byte(d.opts.Token)) != 1 {
		d.render(w, http.StatusUnauthorized, "login", loginData{Next: next, Error: "That is not the server's token."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: d.cookieValue(), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a redirect target on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// --- the API, in process ---

// apiReply is what the API answered.
type apiReply struct {
	Status  int
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result json.RawMessage `json:"result"`
}

// Err returns the API's error message, or "" on success.
func (a apiReply) Err() string {
	if a.Status < 400 {
		return ""
	}
	if len(a.Errors) == 0 {
		return http.StatusText(a.Status)
	}
	msgs := make([]string, len(a.Errors))
	for i, e := range a.Errors {
		msgs[i] = e.Message
	}
	return strings.Join(msgs, "; ")
}

// api sends one request to the server's REST API handler, in process, with
// the server's token. path is relative to …/namespaces.
func (d *Dashboard) api(ctx context.Context, method, path string, query url.Values, contentType string, body io.Reader) apiReply {
	u := "http://kvkit.local/client/v4/accounts/" + d.opts.AccountID + "/storage/kv/namespaces" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return apiReply{Status: http.StatusBadRequest, Errors: []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}{{Message: err.Error()}}}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if d.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+d.opts.Token)
	}
	rec := httptest.NewRecorder()
	d.srv.ServeHTTP(rec, req)
	out := apiReply{Status: rec.Code}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		d.opts.Logger.Debug("dashboard: API answer is not JSON", "path", path, "status", rec.Code)
	}
	out.Status = rec.Code
	return out
}

// namespace finds namespace id, or answers 404 itself.
func (d *Dashboard) namespace(w http.ResponseWriter, r *http.Request) (kvserver.NamespaceInfo, *memory.Namespace, bool) {
	id := r.PathValue("id")
	ns, ok := d.srv.Namespace(id)
	if !ok {
		d.render(w, http.StatusNotFound, "error", errorData{Message: "No namespace " + id + ": it was never created, or it was deleted."})
		return kvserver.NamespaceInfo{}, nil, false
	}
	for _, info := range d.srv.Namespaces() {
		if info.ID == id {
			return info, ns, true
		}
	}
	return kvserver.NamespaceInfo{ID: id}, ns, true
}

// --- rendering ---

// page is what every template gets: the namespace the nav shows and
// whether a logout button makes sense.
type page struct {
	NS     kvserver.NamespaceInfo
	Tab    string
	Locked bool
}

func (d *Dashboard) render(w http.ResponseWriter, status int, name string, data any) {
	t, ok := d.pages[name]
	if !ok {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		d.opts.Logger.Error("dashboard: template", "name", name, "err", err)
		http.Error(w, "template "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

type errorData struct {
	page
	Message string
}

// seeOther redirects after a successful POST.
func seeOther(w http.ResponseWriter, r *http.Request, path string, q url.Values) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

var errNoForm = errors.New("the form could not be read")
