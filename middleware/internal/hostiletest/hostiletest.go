// Package hostiletest is the "hostile client" table that the net/http and
// Echo middlewares both pass: the session, response-cache, flags and
// rate-limit middlewares stacked in every order, attacked with forged and
// oversized cookies, spoofed forwarding headers, Host and X-Forwarded-Host
// variations, query-string floods and unknown flag names. Each framework's
// test supplies a Build that stacks its own middleware.
package hostiletest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/patterns/cache"
	"github.com/kvkit/kvkit/patterns/counter"
	"github.com/kvkit/kvkit/patterns/flags"
	"github.com/kvkit/kvkit/patterns/session"
)

// Layer names one middleware of the stack.
type Layer string

// The layers a stack is made of.
const (
	Session   Layer = "session"
	Cache     Layer = "cache"
	Flags     Layer = "flags"
	RateLimit Layer = "ratelimit"
)

// User is the session data of the app.
type User struct {
	Name string `json:"name"`
}

// Layers are the patterns a framework's middleware is built from.
type Layers struct {
	Sessions *session.Manager[User]
	Cache    *cache.ResponseCache
	Flags    *flags.Client
	UserID   func(*http.Request) string // the signed-in user's name, from the session
	Limiter  *counter.Limiter
	Key      httpkey.KeyFunc
}

// Build returns a server that runs the middleware of order (outermost
// first) around app, a plain net/http handler for every method and path.
type Build func(t *testing.T, l Layers, order []Layer, app http.Handler) http.Handler

// Limit is the rate limit of every stack: requests per client per minute.
const Limit = 5

// Env is one case's world.
type Env struct {
	T      *testing.T
	Clock  *kvtest.Clock
	NS     *kvtest.CountingBulk
	L      Layers
	Server http.Handler
	Order  []Layer
	// Calls counts the app's calls per path.
	Calls map[string]*atomic.Int64
}

// NewEnv builds the layers over one counting memory namespace and stacks
// them in order around the app.
func NewEnv(t *testing.T, build Build, order []Layer, o cache.ResponseOptions) *Env {
	t.Helper()
	clock := kvtest.NewClock()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{Clock: clock.Now}))
	quiet := slog.New(slog.DiscardHandler)
	sessions := session.Must(session.New[User](ns, session.Options{Clock: clock.Now, Logger: quiet}))
	o.Clock, o.Logger = clock.Now, quiet
	if o.PurgeBound == 0 {
		o.PurgeBound = -1 // the purge log has its own cases (cachetest): off here, so KV call counts are the layers' own
	}
	rc, err := cache.NewResponseCache(ns, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close(context.Background()) })
	fl := flags.Must(flags.New(ns, flags.Options{Clock: clock.Now, Logger: quiet}))
	require.NoError(t, fl.Set(context.Background(), "beta", flags.Flag{Enabled: true, Allowlist: []string{"alice"}}))
	lim, err := counter.NewLimiter(ns, Limit, time.Minute, counter.LimiterOptions{
		Clock: clock.Now, Tick: make(chan time.Time), Logger: quiet, Algorithm: counter.FixedWindow,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = lim.Close(context.Background()) })
	e := &Env{T: t, Clock: clock, NS: ns, Order: order, Calls: map[string]*atomic.Int64{}}
	e.L = Layers{
		Sessions: sessions, Cache: rc, Flags: fl, Limiter: lim,
		UserID: sessions.UserID(func(u User) string { return u.Name }),
		Key:    httpkey.ByIP(httpkey.IPConfig{}),
	}
	e.Server = build(t, e.L, order, e.app())
	ns.Reset()
	return e
}

// app is the application behind the stack. Every route counts its calls.
func (e *Env) app() http.Handler {
	mux := http.NewServeMux()
	m := e.L.Sessions
	route := func(pattern string, h http.HandlerFunc) {
		path := pattern[strings.IndexByte(pattern, ' ')+1:]
		n := &atomic.Int64{}
		e.Calls[path] = n
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			h(w, r)
		})
	}
	var guests atomic.Int64
	route("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		if err := s.Renew(r.Context()); err != nil {
			http.Error(w, "renew", http.StatusInternalServerError)
			return
		}
		if err := s.Set(r.Context(), User{Name: r.URL.Query().Get("name")}); err != nil {
			http.Error(w, "set", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "signed in")
	})
	// A personalised page that only reads the session.
	route("GET /me", func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := m.FromContext(r.Context()).Get(r.Context())
		switch {
		case err != nil:
			http.Error(w, "session", http.StatusInternalServerError)
		case !ok:
			_, _ = io.WriteString(w, "hello stranger")
		default:
			_, _ = io.WriteString(w, "hello "+u.Name)
		}
	})
	// The page of the issue: a first visit creates a guest session.
	route("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		u, ok, err := s.Get(r.Context())
		if err != nil {
			http.Error(w, "session", http.StatusInternalServerError)
			return
		}
		if !ok {
			u = User{Name: "guest-" + strconv.FormatInt(guests.Add(1), 10)}
			if err := s.Set(r.Context(), u); err != nil {
				http.Error(w, "session", http.StatusInternalServerError)
				return
			}
		}
		_, _ = io.WriteString(w, "hello "+u.Name)
	})
	// A page that says nothing about caching and uses no session.
	route("GET /public", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "the same for everyone")
	})
	// A page the cache never stores: every request reaches the limiter.
	route("GET /private", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private")
		_, _ = io.WriteString(w, "private")
	})
	// A page that builds an absolute URL from the request, as frameworks do.
	route("GET /app", func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
			host = fh
		}
		_, _ = fmt.Fprintf(w, `<script src="//%s/app.js"></script>`, host)
	})
	// A page that depends on a cookie the session middleware knows nothing of.
	route("GET /theme", func(w http.ResponseWriter, r *http.Request) {
		theme := "light"
		if c, err := r.Cookie("theme"); err == nil {
			theme = c.Value
		}
		_, _ = io.WriteString(w, "theme="+theme)
	})
	route("GET /search", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "results for "+r.URL.Query().Get("q"))
	})
	// Evaluates a flag the client names.
	route("GET /flag", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		state := "off"
		if flags.FromContext(r.Context()).IsEnabled(name) {
			state = "on"
		}
		_, _ = io.WriteString(w, name+"="+state)
	})
	// A page only alice's flag shows.
	route("GET /beta", func(w http.ResponseWriter, r *http.Request) {
		if !flags.FromContext(r.Context()).IsEnabled("beta") {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "beta features")
	})
	return mux
}

// Outside reports whether layer a runs outside (before) layer b in this
// Env's stack.
func (e *Env) Outside(a, b Layer) bool {
	ia, ib := -1, -1
	for i, l := range e.Order {
		switch l {
		case a:
			ia = i
		case b:
			ib = i
		}
	}
	return ia >= 0 && ib >= 0 && ia < ib
}

// Req is one request of a case.
type Req struct {
	Method string // default GET
	Target string
	Host   string // default example.com
	Remote string // default 203.0.113.7:1234
	Cookie string // the raw Cookie header
	Header map[string]string
}

// Do sends r through the stack.
func (e *Env) Do(r Req) *httptest.ResponseRecorder {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	req := httptest.NewRequest(r.Method, r.Target, nil)
	if r.Host != "" {
		req.Host = r.Host
	}
	if r.Remote != "" {
		req.RemoteAddr = r.Remote
	}
	if r.Cookie != "" {
		req.Header.Set("Cookie", r.Cookie)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.Server.ServeHTTP(rec, req)
	return rec
}

// Get sends a GET of target, with cookie as its Cookie header when not "".
func (e *Env) Get(target, cookie string) *httptest.ResponseRecorder {
	return e.Do(Req{Target: target, Cookie: cookie})
}

// SessionCookie returns "name=value" of the session cookie rec sets, or "".
func (e *Env) SessionCookie(rec *httptest.ResponseRecorder) string {
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == e.L.Sessions.CookieName() && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

// Login signs name in and returns its Cookie header.
func (e *Env) Login(name string) string {
	e.T.Helper()
	rec := e.Do(Req{Method: http.MethodPost, Target: "/login?name=" + name})
	require.Equal(e.T, http.StatusOK, rec.Code, rec.Body.String())
	c := e.SessionCookie(rec)
	require.NotEmpty(e.T, c)
	return c
}

// Hit reports whether rec was answered from the cache.
func Hit(rec *httptest.ResponseRecorder) bool {
	return strings.HasPrefix(rec.Header().Get("Cache-Status"), "kvkit; hit")
}

// Orders returns every order of the four layers, outermost first: 24
// stacks, so each pair of layers is seen in both orders and each layer in
// every position.
func Orders() [][]Layer {
	var out [][]Layer
	var perm func(prefix, rest []Layer)
	perm = func(prefix, rest []Layer) {
		if len(rest) == 0 {
			out = append(out, prefix)
			return
		}
		for i := range rest {
			next := append(append([]Layer{}, rest[:i]...), rest[i+1:]...)
			perm(append(append([]Layer{}, prefix...), rest[i]), next)
		}
	}
	perm(nil, []Layer{Session, Cache, Flags, RateLimit})
	return out
}

// Name is the subtest name of an order.
func Name(order []Layer) string {
	s := make([]string, len(order))
	for i, l := range order {
		s[i] = string(l)
	}
	return strings.Join(s, ">")
}

// StackCase is a check that must hold whatever the order of the layers.
type StackCase struct {
	Name string
	Opts cache.ResponseOptions
	Run  func(t *testing.T, e *Env)
}

// Case is a hostile request pattern, run on the stack given by Order
// (default: the README's, session outside the cache).
type Case struct {
	Name  string
	Order []Layer
	Opts  cache.ResponseOptions
	Run   func(t *testing.T, e *Env)
}

// Run runs the whole table against build.
func Run(t *testing.T, build Build) {
	for _, order := range Orders() {
		t.Run(Name(order), func(t *testing.T) {
			t.Parallel()
			for _, c := range StackCases() {
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					c.Run(t, NewEnv(t, build, order, c.Opts))
				})
			}
		})
	}
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			order := c.Order
			if order == nil {
				order = []Layer{Session, Flags, Cache}
			}
			c.Run(t, NewEnv(t, build, order, c.Opts))
		})
	}
}

// StackCases are checked on every order of the layers.
func StackCases() []StackCase {
	return []StackCase{
		{Name: "a signed-in page never reaches another client", Run: func(t *testing.T, e *Env) {
			alice := e.Login("alice")
			for range 2 {
				assert.Equal(t, "hello alice", e.Get("/me", alice).Body.String())
			}
			for _, who := range []string{"", "session=forged", e.Login("bob")} {
				rec := e.Get("/me", who)
				assert.NotContains(t, rec.Body.String(), "alice", "cookie %q", who)
				assert.False(t, Hit(rec) && who != "", "a personal request is never a hit of another's page")
			}
		}},
		{Name: "a page that creates a session is never stored for others", Run: func(t *testing.T, e *Env) {
			first := e.Get("/hello", "")
			require.Equal(t, "hello guest-1", first.Body.String())
			c1 := e.SessionCookie(first)
			require.NotEmpty(t, c1)
			assert.Contains(t, first.Header().Get("Cache-Control"), "no-store")
			second := e.Get("/hello", "")
			assert.Equal(t, "hello guest-2", second.Body.String(), "a new visitor gets a page of their own")
			assert.NotEqual(t, c1, e.SessionCookie(second), "and never the first visitor's cookie")
			assert.False(t, Hit(second))
			assert.Equal(t, "hello guest-1", e.Get("/hello", c1).Body.String())
		}},
		{Name: "a page that uses no session is still cached for anonymous clients", Run: func(t *testing.T, e *Env) {
			for range 3 {
				rec := e.Get("/public", "")
				assert.Equal(t, "the same for everyone", rec.Body.String())
				assert.Empty(t, e.SessionCookie(rec))
			}
			assert.EqualValues(t, 1, e.Calls["/public"].Load())
		}},
		{Name: "a flag decision for one user is never served to another", Run: func(t *testing.T, e *Env) {
			alice := e.Login("alice")
			if e.Outside(Session, Flags) { // else the flags middleware cannot see who is signed in
				assert.Equal(t, "beta features", e.Get("/beta", alice).Body.String())
			}
			for _, who := range []string{"", e.Login("bob")} {
				rec := e.Get("/beta", who)
				assert.Equal(t, http.StatusNotFound, rec.Code, "cookie %q", who)
			}
		}},
		{Name: "one client's rate-limit state is never served to another", Run: func(t *testing.T, e *Env) {
			x := Req{Target: "/public", Remote: "198.51.100.1:1000"}
			for range 3 {
				e.Do(Req{Target: "/search?q=x", Remote: x.Remote})
			}
			e.Do(x)
			y := e.Do(Req{Target: "/public", Remote: "198.51.100.2:2000"})
			require.Equal(t, http.StatusOK, y.Code)
			if rem := y.Header().Get("X-RateLimit-Remaining"); rem != "" {
				assert.Equal(t, strconv.Itoa(Limit-1), rem, "y's own count, not x's")
			}
			for range Limit {
				e.Do(Req{Target: "/private", Remote: x.Remote})
			}
			assert.Equal(t, http.StatusTooManyRequests, e.Do(Req{Target: "/private", Remote: x.Remote}).Code)
			assert.Equal(t, http.StatusOK, e.Do(Req{Target: "/private", Remote: "198.51.100.2:2000"}).Code, "x's 429 is not y's")
			assert.Equal(t, http.StatusOK, e.Do(Req{Target: "/public", Remote: "198.51.100.3:3000"}).Code, "nor anyone's")
		}},
	}
}

// Cases are the hostile request patterns.
func Cases() []Case {
	return []Case{
		{Name: "forged, malformed and oversized session cookies", Run: func(t *testing.T, e *Env) {
			alice := e.Login("alice")
			e.NS.Reset()
			for _, c := range []string{
				"session=", "session=../x", "session=" + strings.Repeat("A", 10<<10), "session=" + session.NewToken(),
				"session=" + strings.Repeat("A", 43) + "; session=" + strings.Repeat("B", 43),
				strings.Repeat("junk=1; ", 2000) + "x=y",
			} {
				rec := e.Get("/me", c)
				assert.Equal(t, http.StatusOK, rec.Code)
				assert.Equal(t, "hello stranger", rec.Body.String())
			}
			assert.LessOrEqual(t, e.NS.Counts().Reads(), int64(4), "at most one read per well-formed token and per page")
			assert.Equal(t, "hello alice", e.Get("/me", alice).Body.String())
		}},
		{Name: "Host is part of the key", Run: func(t *testing.T, e *Env) {
			for _, host := range []string{"evil.example", "EVIL.example", "example.com.evil.example", "example.com:8080"} {
				e.Do(Req{Target: "/app", Host: host})
			}
			rec := e.Do(Req{Target: "/app", Host: "example.com"})
			assert.Equal(t, `<script src="//example.com/app.js"></script>`, rec.Body.String())
			rec = e.Do(Req{Target: "/app", Host: "example.com"})
			assert.True(t, Hit(rec), "the real host's page is cached for the real host")
			assert.Equal(t, `<script src="//example.com/app.js"></script>`, rec.Body.String())
		}},
		{Name: "X-Forwarded-Host from a client never poisons the real host", Run: func(t *testing.T, e *Env) {
			for _, h := range []map[string]string{
				{"X-Forwarded-Host": "evil.example"},
				{"X-Forwarded-Host": "evil.example, example.com"},
				{"X-Host": "evil.example"},
				{"Forwarded": "host=evil.example"},
				{"X-Original-URL": "/evil"},
			} {
				for range 2 {
					e.Do(Req{Target: "/app", Header: h})
				}
			}
			rec := e.Do(Req{Target: "/app"})
			assert.Equal(t, `<script src="//example.com/app.js"></script>`, rec.Body.String())
		}},
		{Name: "a page that depends on a cookie is not shared", Run: func(t *testing.T, e *Env) {
			assert.Equal(t, "theme=dark", e.Get("/theme", "theme=dark").Body.String())
			assert.Equal(t, "theme=light", e.Get("/theme", "").Body.String())
			assert.Equal(t, "theme=light", e.Get("/theme", "").Body.String())
			assert.Equal(t, "theme=blue", e.Get("/theme", "theme=blue").Body.String())
			assert.Equal(t, "theme=dark", e.Get("/theme", "theme=dark").Body.String())
		}},
		{Name: "a host that looks like a tag record cannot overwrite a tag's purge", Run: func(t *testing.T, e *Env) {
			// Every host and path a client can send: a page's KV key never
			// equals the record of tag "foo".
			ctx := context.Background()
			require.NoError(t, e.L.Cache.PurgeTag(ctx, "foo"))
			page, err := e.NS.List(ctx, kv.ListOptions{Prefix: "http:"})
			require.NoError(t, err)
			require.Len(t, page.Keys, 1, "the tag record is the cache's only key")
			record := page.Keys[0].Name
			before, _, err := e.NS.Get(ctx, record, kv.GetOptions{})
			require.NoError(t, err)
			for _, host := range []string{"!tag", "!tag/", "http:!tag", "#", "!TAG"} {
				e.Do(Req{Target: "/foo", Host: host})
			}
			after, _, err := e.NS.Get(ctx, record, kv.GetOptions{})
			require.NoError(t, err)
			assert.Equal(t, string(before.Value), string(after.Value), "the tag record still holds its purge generation")
		}},
		{Name: "a query-string flood costs a bounded number of KV calls", Run: func(t *testing.T, e *Env) {
			const n = 2000
			limited := 0
			for i := range n {
				rec := e.Do(Req{Target: "/search?q=" + strconv.Itoa(i)})
				require.Equal(t, "results for "+strconv.Itoa(i), rec.Body.String())
				if strings.HasSuffix(rec.Header().Get("Cache-Status"), "detail=path-limit") {
					limited++
				}
			}
			c := e.NS.Counts()
			t.Logf("%d distinct query strings: KV %+v", n, c)
			assert.LessOrEqual(t, c.Get, int64(16), "at most MaxMissesPerPath reads, not one per query string")
			assert.LessOrEqual(t, c.Writes(), int64(16), "and as many writes")
			assert.Equal(t, n-16, limited, "the rest go to the handler with no KV call")
			e.Get("/public", "")
			assert.True(t, Hit(e.Get("/public", "")), "other pages are still cached")
		}},
		{Name: "unknown flag names are off and cost bounded KV reads", Run: func(t *testing.T, e *Env) {
			alice := e.Login("alice")
			for i := range 200 {
				rec := e.Get("/flag?name=nope-"+strconv.Itoa(i), alice)
				require.Equal(t, http.StatusOK, rec.Code)
				require.Equal(t, "nope-"+strconv.Itoa(i)+"=off", rec.Body.String())
			}
			assert.Equal(t, "beta=on", e.Get("/flag?name=beta", alice).Body.String())
			assert.Equal(t, "beta=off", e.Get("/flag?name=beta", "").Body.String())
			assert.Equal(t, "beta=on", e.Get("/flag?name=beta", alice).Body.String())
		}},
		{Name: "spoofed forwarding headers buy no rate-limit quota", Order: []Layer{RateLimit, Session, Cache}, Run: func(t *testing.T, e *Env) {
			codes := map[int]int{}
			for i := range 20 {
				ip := fmt.Sprintf("1.1.1.%d", i)
				rec := e.Do(Req{Target: "/public", Header: map[string]string{
					"X-Forwarded-For": ip, "CF-Connecting-IP": ip, "X-Real-IP": ip, "True-Client-IP": ip,
				}})
				codes[rec.Code]++
			}
			assert.Equal(t, map[int]int{200: Limit, 429: 20 - Limit}, codes)
		}},
	}
}
