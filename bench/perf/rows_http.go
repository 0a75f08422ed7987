package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/labstack/echo/v4"

	"github.com/kvkit/kvkit/kv/memory"
	kvecho "github.com/kvkit/kvkit/middleware/echo"
	"github.com/kvkit/kvkit/middleware/httpkey"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/cache"
	"github.com/kvkit/kvkit/patterns/counter"
	"github.com/kvkit/kvkit/patterns/flags"
	"github.com/kvkit/kvkit/patterns/session"
)

// stack is every pattern over one embedded namespace, as an app wires
// them: a flag "beta" on for everyone, a limit no request reaches, and a
// response cache. The request is an anonymous visitor's (no session
// cookie): the session middleware runs and the flags middleware asks it for
// the user, but a page rendered after reading a signed-in visitor's session
// is never shared (issue 12), so a cache hit through the whole stack is an
// anonymous visitor's by design.
type stack struct {
	m     *session.Manager[user]
	flags *flags.Client
	lim   *counter.Limiter
	rc    *cache.ResponseCache
}

func newStack() (*stack, error) {
	ns := memory.New(memory.Options{})
	st := &stack{m: session.Must(session.New[user](ns, session.Options{}))}
	var err error
	if st.flags, err = flags.New(ns, flags.Options{}); err != nil {
		return nil, err
	}
	if err := st.flags.Set(ctx, "beta", flags.Flag{Enabled: true, RolloutPercent: 100}); err != nil {
		return nil, err
	}
	if st.lim, err = counter.NewLimiter(ns, 1<<30, time.Minute, counter.LimiterOptions{Logger: quiet}); err != nil {
		return nil, err
	}
	if st.rc, err = cache.NewResponseCache(ns, cache.ResponseOptions{Logger: quiet}); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *stack) close() { closeAll(st.lim, st.rc) }

func (st *stack) request(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = "203.0.113.7:4242"
	return r
}

// compareStack compares ours and bare on proto after checking that ours
// answers from the cache.
func compareStack(c *Config, id string, ours, ref http.Handler, proto *http.Request) (Line, error) {
	if err := check(ours, proto, ""); err != nil { // the miss that stores it
		return Line{}, err
	}
	if err := check(ours, proto, "kvkit; hit"); err != nil {
		return Line{}, err
	}
	if err := check(ref, proto, ""); err != nil {
		return Line{}, err
	}
	cmp := c.Compare(id, Pair{Ours: serve(ours, proto), Ref: serve(ref, proto)})
	l := ratioLine(cmp, 2, nil)
	l.Notes = fmt.Sprintf("%s; %.0f requests/s per core for the full stack", l.Notes, 1e9/cmp.OursNs)
	return l, nil
}

func rowStackNetHTTP(c *Config) (Line, error) {
	st, err := newStack()
	if err != nil {
		return Line{}, err
	}
	defer st.close()
	var h http.Handler = bare
	h = nethttp.Cache(st.rc)(h)
	h = nethttp.FlagGate("beta")(h)
	h = nethttp.RateLimit(st.lim, httpkey.ByIP(httpkey.IPConfig{}))(h)
	h = nethttp.Flags(st.flags, st.m.UserID(userID))(h)
	h = nethttp.Session(st.m)(h)
	return compareStack(c, "stack-nethttp", h, bare, st.request("/items/42"))
}

func echoBare(c echo.Context) error { return c.Blob(http.StatusOK, "application/octet-stream", body1K) }

func rowStackEcho(c *Config) (Line, error) {
	st, err := newStack()
	if err != nil {
		return Line{}, err
	}
	defer st.close()
	uid := st.m.UserID(userID)
	ours := echo.New()
	ours.GET("/items/:id", echoBare,
		kvecho.Session(st.m),
		kvecho.Flags(st.flags, func(c echo.Context) string { return uid(c.Request()) }),
		kvecho.RateLimit(st.lim, httpkey.ByIP(httpkey.IPConfig{})),
		kvecho.FlagGate("beta"),
		kvecho.Cache(st.rc))
	ref := echo.New()
	ref.GET("/items/:id", echoBare)
	return compareStack(c, "stack-echo", ours, ref, st.request("/items/42"))
}

func rowSessionUntouched(c *Config) (Line, error) {
	m := session.Must(session.New[user](memory.New(memory.Options{}), session.Options{}))
	cookie, err := signIn(m, user{ID: "u1", Role: "admin"})
	if err != nil {
		return Line{}, err
	}
	proto := httptest.NewRequest(http.MethodGet, "/", nil)
	proto.Header.Set("Cookie", cookie)
	ours := nethttp.Session(m)(bare)
	if err := check(ours, proto, ""); err != nil {
		return Line{}, err
	}
	return ratioLine(c.Compare("session-untouched", Pair{Ours: serve(ours, proto), Ref: serve(bare, proto)}), 1.1, nil), nil
}

func rowSessionModify(c *Config) (Line, error) {
	m := session.Must(session.New[user](memory.New(memory.Options{}), session.Options{}))
	cookie, err := signIn(m, user{ID: "u1", Role: "admin"})
	if err != nil {
		return Line{}, err
	}
	ours := nethttp.Session(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.FromContext(r.Context()).Update(r.Context(), func(u *user) error { u.Count++; return nil }); err != nil {
			panic(err)
		}
		bare(w, r)
	}))

	sm := scs.New()                               // its default store starts a goroutine for good (see TestQuick)
	sm.Store = memstore.NewWithCleanupInterval(0) // no goroutine
	login := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "id", "u1")
		sm.Put(r.Context(), "role", "admin")
		sm.Put(r.Context(), "count", 0)
	}))
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		return Line{}, fmt.Errorf("scs sign-in: %d cookies", len(cs))
	}
	ref := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "count", sm.GetInt(r.Context(), "count")+1)
		bare(w, r)
	}))

	oursReq := httptest.NewRequest(http.MethodGet, "/", nil)
	oursReq.Header.Set("Cookie", cookie)
	refReq := httptest.NewRequest(http.MethodGet, "/", nil)
	refReq.Header.Set("Cookie", "session="+cs[0].Value)
	for _, v := range []struct {
		h http.Handler
		r *http.Request
	}{{ours, oursReq}, {ref, refReq}} {
		w := httptest.NewRecorder()
		v.h.ServeHTTP(w, v.r.Clone(ctx))
		if w.Code != http.StatusOK || len(w.Result().Cookies()) != 1 {
			return Line{}, fmt.Errorf("modify: status %d, cookies %v", w.Code, w.Result().Cookies())
		}
	}
	s := m.Open(cookieToken(cookie))
	u, _, err := s.Get(ctx)
	if err != nil || u.Count != 1 {
		return Line{}, fmt.Errorf("modify did not save: %+v %v", u, err)
	}
	return ratioLine(c.Compare("session-modify", Pair{Ours: serve(ours, oursReq), Ref: serve(ref, refReq)}), 0.2, nil), nil
}

func cookieToken(cookie string) string {
	for i := range len(cookie) {
		if cookie[i] == '=' {
			return cookie[i+1:]
		}
	}
	return ""
}
