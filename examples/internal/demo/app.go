// Package demo is the shared core of kvkit's demo apps (examples/nethttp and
// examples/echo): the patterns wired over one namespace, the data each page
// shows, and the HTML templates. Each app adds only its framework's routing
// and middleware, so both serve the same pages with the same behaviour.
package demo

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/patterns/cache"
	"github.com/kvkit/kvkit/patterns/counter"
	"github.com/kvkit/kvkit/patterns/flags"
	"github.com/kvkit/kvkit/patterns/session"
)

// User is the session's data, stored as JSON a Worker can read too.
type User struct {
	Name       string    `json:"name"`
	SignedInAt time.Time `json:"signedInAt"`
}

// Demo settings, visible on the pages.
const (
	NewUIFlag     = "new-ui"
	APILimit      = 5
	APIWindow     = time.Minute
	SlowDelay     = 300 * time.Millisecond
	CacheTTL      = 30 * time.Second
	SessionLife   = 24 * time.Hour
	SessionIdle   = 30 * time.Minute
	SessionCache  = 5 * time.Second // sessions changed on another server show here within 5 s
	anonymousUser = "anonymous"
)

// SeedFlags are written on start when absent.
var SeedFlags = map[string]flags.Flag{
	NewUIFlag:   {Enabled: true, RolloutPercent: 50},
	"dark-mode": {Enabled: true, RolloutPercent: 25, Allowlist: []string{"ada"}},
	"beta-api":  {Enabled: false, RolloutPercent: 100},
}

//go:embed templates/*.html
var templateFS embed.FS

// Options configures an App.
type Options struct {
	// SecureCookies sets the Secure attribute on the session cookie. Off for
	// the demo's plain-HTTP loopback server; on behind HTTPS.
	SecureCookies bool
	// Clock for the patterns. Default: time.Now.
	Clock func() time.Time
	// Logger. Default: slog.Default().
	Logger *slog.Logger
	// Requests, when set, reports the backend's API requests so far (the
	// Cloudflare backend counts them); shown on the pages.
	Requests func() int64
}

// App holds the patterns of the demo over one namespace.
type App struct {
	NS        kv.Namespace
	Sessions  *session.Manager[User]
	Flags     *flags.Client
	Counter   *counter.Counter
	Limiter   *counter.Limiter
	Responses *cache.ResponseCache

	opts Options
	tmpl *template.Template
}

// New builds the app over ns and seeds the flags that are absent.
func New(ctx context.Context, ns kv.Namespace, opts Options) (*App, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	a := &App{NS: ns, opts: opts}
	var err error
	a.Sessions, err = session.New[User](ns, session.Options{
		Lifetime:    SessionLife,
		IdleTimeout: SessionIdle,
		CacheTTL:    SessionCache,
		Cookie:      session.Cookie{Insecure: !opts.SecureCookies},
		Clock:       opts.Clock,
		Logger:      opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	if a.Flags, err = flags.New(ns, flags.Options{Clock: opts.Clock, Logger: opts.Logger}); err != nil {
		return nil, err
	}
	if a.Counter, err = counter.New(ns, counter.Options{Clock: opts.Clock, Logger: opts.Logger}); err != nil {
		return nil, err
	}
	if a.Limiter, err = counter.NewLimiter(ns, APILimit, APIWindow, counter.LimiterOptions{Clock: opts.Clock, Logger: opts.Logger}); err != nil {
		_ = a.Counter.Close(ctx)
		return nil, err
	}
	if a.Responses, err = cache.NewResponseCache(ns, cache.ResponseOptions{TTL: CacheTTL, Clock: opts.Clock, Logger: opts.Logger}); err != nil {
		_ = a.Close(ctx)
		return nil, err
	}
	if err := a.seed(ctx); err != nil {
		_ = a.Close(ctx)
		return nil, err
	}
	a.tmpl, err = template.New("").Funcs(template.FuncMap{
		"pct":  func(f float64) string { return fmt.Sprintf("%.2f", f) },
		"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		_ = a.Close(ctx)
		return nil, err
	}
	return a, nil
}

func (a *App) seed(ctx context.Context) error {
	for name, f := range SeedFlags {
		if _, found, err := a.Flags.Get(ctx, name); err != nil {
			return fmt.Errorf("seed flag %s: %w", name, err)
		} else if !found {
			if err := a.Flags.Set(ctx, name, f); err != nil {
				return fmt.Errorf("seed flag %s: %w", name, err)
			}
		}
	}
	return nil
}

// Close flushes the counters and stops their flushers.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	if a.Responses != nil {
		errs = append(errs, a.Responses.Close(ctx))
	}
	return errors.Join(append(errs, a.Limiter.Close(ctx), a.Counter.Close(ctx))...)
}

// UserID is the flag and rate-limit identity of a request: the signed-in
// name, or "anonymous". It shares the session middleware's lazy load.
func (a *App) UserID(r *http.Request) string {
	if id := a.Sessions.UserID(func(u User) string { return u.Name })(r); id != "" {
		return id
	}
	return anonymousUser
}

// Page is what every page shows.
type Page struct {
	Title     string
	Path      string
	Framework string
	User      *User
	Expires   time.Time
	Views     int64
	Requests  int64
	HasReqs   bool
}

// HomeData is the home page.
type HomeData struct {
	Page
	NewUI   bool
	Bucket  float64
	Rollout float64 // the new-ui flag's rollout percentage
	UserID  string
}

// FlagRow is one flag on the flags page.
type FlagRow struct {
	Name     string
	Def      flags.Flag
	Bucket   float64
	Decision flags.Decision
}

// FlagsData is the flags page.
type FlagsData struct {
	Page
	UserID string
	Flags  []FlagRow
}

// SignInName validates a sign-in name: 1 to 32 letters, digits, '-' or '_'.
func SignInName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 32 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return "", errors.New("a name is 1 to 32 letters, digits, '-' or '_'")
	}
	return s, nil
}

// SignIn starts a fresh session for name (a new token: no fixation).
func (a *App) SignIn(r *http.Request, name string) error {
	s := a.Sessions.FromContext(r.Context())
	if err := s.Renew(r.Context()); err != nil {
		return err
	}
	return s.Set(r.Context(), User{Name: name, SignedInAt: time.Now().UTC()})
}

// SignOut destroys the session.
func (a *App) SignOut(r *http.Request) error {
	return a.Sessions.FromContext(r.Context()).Destroy(r.Context())
}

// page fills the common part and counts the page view.
func (a *App) page(r *http.Request, framework, title string) (Page, error) {
	ctx := r.Context()
	p := Page{Title: title, Path: r.URL.Path, Framework: framework}
	s := a.Sessions.FromContext(ctx)
	u, ok, err := s.Get(ctx)
	if err != nil {
		return p, err
	}
	if ok {
		p.User = &u
		if p.Expires, _, err = s.Expires(ctx); err != nil {
			return p, err
		}
	}
	if p.Views, err = a.Counter.Increment(ctx, "page:"+r.URL.Path, 1); err != nil {
		return p, err
	}
	if a.opts.Requests != nil {
		p.Requests, p.HasReqs = a.opts.Requests(), true
	}
	return p, nil
}

// Home gathers the home page.
func (a *App) Home(r *http.Request, framework string, ev *flags.Evaluator) (HomeData, error) {
	p, err := a.page(r, framework, "kvkit demo")
	if err != nil {
		return HomeData{}, err
	}
	id := a.UserID(r)
	def, _, err := a.Flags.Get(r.Context(), NewUIFlag) // from the client's cache
	if err != nil {
		return HomeData{}, err
	}
	return HomeData{Page: p, NewUI: ev.IsEnabled(NewUIFlag), Bucket: flags.Bucket(NewUIFlag, id), Rollout: def.RolloutPercent, UserID: id}, nil
}

// FlagsPage gathers the flags page: each definition and this user's bucket.
func (a *App) FlagsPage(r *http.Request, framework string) (FlagsData, error) {
	p, err := a.page(r, framework, "Feature flags")
	if err != nil {
		return FlagsData{}, err
	}
	// Served from the client's caches (one listing + bulk read, and one read
	// per flag, per 30 s): Flags.List would read KV on every page view.
	id := a.UserID(r)
	decisions, err := a.Flags.EvaluateAll(r.Context(), id)
	if err != nil {
		return FlagsData{}, err
	}
	d := FlagsData{Page: p, UserID: id}
	for name, dec := range decisions {
		def, _, err := a.Flags.Get(r.Context(), name)
		if err != nil {
			return FlagsData{}, err
		}
		d.Flags = append(d.Flags, FlagRow{Name: name, Def: def, Bucket: flags.Bucket(name, id), Decision: dec})
	}
	sort.Slice(d.Flags, func(i, j int) bool { return d.Flags[i].Name < d.Flags[j].Name })
	return d, nil
}

// CachePage gathers the page that explains the response cache.
func (a *App) CachePage(r *http.Request, framework string) (Page, error) {
	return a.page(r, framework, "Response cache")
}

// SlowCacheControl is the Cache-Control of the slow page: the same for
// every visitor, so it says public and the cache shares it with signed-in
// visitors too (a request with a cookie is otherwise answered and stored
// only for itself; see cache.ResponseOptions.IgnoreCookies).
var SlowCacheControl = "public, max-age=" + strconv.Itoa(int(CacheTTL/time.Second))

// Slow is the artificially slow page behind the response cache.
func (a *App) Slow(ctx context.Context, framework string) (map[string]any, error) {
	select {
	case <-time.After(SlowDelay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return map[string]any{"Framework": framework, "Generated": time.Now().UTC(), "Delay": SlowDelay, "TTL": CacheTTL}, nil
}

// APIHello is the rate-limited API's answer.
func APIHello(userID string) map[string]any {
	return map[string]any{"hello": userID, "time": time.Now().UTC().Format(time.RFC3339)}
}

// APILimited is the rate-limited API's 429 answer: JSON, like every answer
// of the API, so the page's script shows it as it shows a 200.
func APILimited(res counter.Result) map[string]any {
	return map[string]any{
		"error":             "rate limit exceeded",
		"limit":             res.Limit,
		"retryAfterSeconds": int64((res.RetryAfter + time.Second - 1) / time.Second),
	}
}

// NotFoundBody and the text bodies of errors: both apps answer errors as
// net/http's http.Error does (text/plain, the message and a newline), so
// the two frameworks look the same to a client.
const NotFoundBody = "404 page not found"

// Render writes the named template.
func (a *App) Render(w io.Writer, name string, data any) error {
	return a.tmpl.ExecuteTemplate(w, name, data)
}
