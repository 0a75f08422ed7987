// Package sessiontest is the table of session-middleware cases that the
// net/http and Echo middleware tests both run, over real TLS servers with a
// cookie jar, a counting embedded backend and manual clocks.
package sessiontest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/session"
)

// User is the session data of the cases.
type User struct {
	ID    string `json:"id"`
	Role  string `json:"role,omitempty"`
	Count int    `json:"count,omitempty"`
}

// Wrap puts the middleware under test around h, a plain net/http handler
// that reaches the session through m.FromContext(r.Context()).
type Wrap func(t *testing.T, m *session.Manager[User], h http.Handler) http.Handler

// Env is one case's world: backend, clocks, manager and a TLS server with
// a cookie-jar client.
type Env struct {
	T       *testing.T
	Clock   *kvtest.Clock // the manager's clock
	KVClock *kvtest.Clock // the backend's clock (moves with Clock unless a case says otherwise)
	Mem     *memory.Namespace
	KV      *kvtest.CountingBulk
	M       *session.Manager[User]
	Srv     *httptest.Server
	Client  *http.Client
}

// NewEnv starts a server for the routes of this package, wrapped by wrap.
func NewEnv(t *testing.T, wrap Wrap, opts session.Options) *Env {
	t.Helper()
	e := &Env{T: t, Clock: kvtest.NewClock(), KVClock: kvtest.NewClock()}
	e.Mem = memory.New(memory.Options{Clock: e.KVClock.Now})
	e.KV = kvtest.NewCountingBulk(e.Mem)
	opts.Clock = e.Clock.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler) // failures are asserted, not printed
	}
	e.M = session.Must(session.New[User](e.KV, opts))
	e.Srv = httptest.NewTLSServer(wrap(t, e.M, UserHeader(e.M, Routes(e.M))))
	t.Cleanup(e.Srv.Close)
	e.Client = e.Srv.Client()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	e.Client.Jar = jar
	return e
}

// Advance moves both clocks.
func (e *Env) Advance(d time.Duration) {
	e.Clock.Advance(d)
	e.KVClock.Advance(d)
}

// Do sends a request (with the jar's cookies) and returns the response
// and its body.
func (e *Env) Do(method, path string) (*http.Response, string) {
	e.T.Helper()
	req, err := http.NewRequest(method, e.Srv.URL+path, nil)
	require.NoError(e.T, err)
	return e.send(req)
}

// DoCookie sends a request without the jar, carrying the raw Cookie header.
func (e *Env) DoCookie(method, path, cookieHeader string) (*http.Response, string) {
	e.T.Helper()
	req, err := http.NewRequest(method, e.Srv.URL+path, nil)
	require.NoError(e.T, err)
	req.Header.Set("Cookie", cookieHeader)
	c := *e.Client
	c.Jar = nil
	resp, err := c.Do(req)
	require.NoError(e.T, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.T, err)
	return resp, string(b)
}

func (e *Env) send(req *http.Request) (*http.Response, string) {
	e.T.Helper()
	resp, err := e.Client.Do(req)
	require.NoError(e.T, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.T, err)
	return resp, string(b)
}

// Token returns the session token in the jar ("" when none).
func (e *Env) Token() string {
	u, _ := url.Parse(e.Srv.URL)
	for _, c := range e.Client.Jar.Cookies(u) {
		if c.Name == e.M.CookieName() {
			return c.Value
		}
	}
	return ""
}

// Login creates a session for id and resets the counts.
func (e *Env) Login(id string) string {
	e.T.Helper()
	resp, body := e.Do("POST", "/login?id="+id)
	require.Equal(e.T, http.StatusOK, resp.StatusCode, body)
	tok := e.Token()
	require.True(e.T, session.ValidToken(tok), "token %q", tok)
	e.KV.Reset()
	return tok
}

// StoreKey is the KV key of token, computed independently of the package.
func StoreKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return session.DefaultPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// SessionCookie returns the Set-Cookie of the session in resp, or nil.
func SessionCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Routes are the handlers the cases call.
func Routes(m *session.Manager[User]) http.Handler {
	mux := http.NewServeMux()
	get := func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := m.FromContext(r.Context()).Get(r.Context())
		switch {
		case err != nil:
			fmt.Fprint(w, "error")
		case !ok:
			fmt.Fprint(w, "none")
		default:
			fmt.Fprintf(w, "%s:%d", u.ID, u.Count)
		}
	}
	mux.HandleFunc("GET /noop", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "noop") })
	mux.HandleFunc("GET /get", get)
	mux.HandleFunc("GET /silent", func(w http.ResponseWriter, r *http.Request) {
		// Reads the session and returns without writing anything.
		_, _, _ = m.FromContext(r.Context()).Get(r.Context())
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		if err := s.Renew(r.Context()); err != nil {
			http.Error(w, "renew", 500)
			return
		}
		if err := s.Set(r.Context(), User{ID: r.URL.Query().Get("id"), Role: "user"}); err != nil {
			fmt.Fprint(w, "error")
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		err := m.FromContext(r.Context()).Update(r.Context(), func(u *User) error { u.Count++; return nil })
		if err != nil {
			fmt.Fprint(w, "error")
			return
		}
		get(w, r)
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := m.FromContext(r.Context()).Renew(r.Context()); err != nil {
			fmt.Fprint(w, "error")
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.FromContext(r.Context()).Destroy(r.Context()); err != nil {
			fmt.Fprint(w, "error")
			return
		}
		fmt.Fprint(w, "bye")
	})
	mux.HandleFunc("POST /remember", func(w http.ResponseWriter, r *http.Request) {
		err := m.FromContext(r.Context()).SetLifetime(r.Context(), session.Lifetime{Absolute: 30 * 24 * time.Hour, Persist: true})
		if err != nil {
			fmt.Fprint(w, "error")
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		_ = s.Update(r.Context(), func(u *User) error { u.Count++; return nil })
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "chunk1;")
		w.(http.Flusher).Flush()
		err := s.Update(r.Context(), func(u *User) error { u.Count++; return nil })
		fmt.Fprintf(w, "late:%v", errors.Is(err, session.ErrCommitted))
	})
	mux.HandleFunc("GET /controller", func(w http.ResponseWriter, r *http.Request) {
		_ = m.FromContext(r.Context()).Set(r.Context(), User{ID: "ctl"})
		err := http.NewResponseController(w).Flush()
		fmt.Fprintf(w, "flush:%v", err)
	})
	mux.HandleFunc("GET /readfrom", func(w http.ResponseWriter, r *http.Request) {
		_ = m.FromContext(r.Context()).Set(r.Context(), User{ID: "rf"})
		isRF := false // does some layer (ours, under the framework's) read from?
		for x := any(w); x != nil; {
			if _, ok := x.(io.ReaderFrom); ok {
				isRF = true
				break
			}
			u, ok := x.(interface{ Unwrap() http.ResponseWriter })
			if !ok {
				break
			}
			x = u.Unwrap()
		}
		_, _ = io.Copy(w, strings.NewReader("copied:"+strconv.FormatBool(isRF)))
	})
	mux.HandleFunc("GET /hijack", func(w http.ResponseWriter, r *http.Request) {
		_ = m.FromContext(r.Context()).Set(r.Context(), User{ID: "hj"})
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = buf.Flush()
	})
	mux.HandleFunc("GET /parallel", func(w http.ResponseWriter, r *http.Request) {
		s := m.FromContext(r.Context())
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, _, _ = s.Get(r.Context())
				_ = s.Update(r.Context(), func(u *User) error { u.Count++; return nil })
			})
		}
		wg.Wait()
		get(w, r)
	})
	mux.HandleFunc("GET /cc", func(w http.ResponseWriter, r *http.Request) {
		// Caching headers of the handler's own, then maybe a session change.
		if cc := r.URL.Query().Get("cc"); cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		if v := r.URL.Query().Get("vary"); v != "" {
			w.Header().Set("Vary", v)
		}
		s := m.FromContext(r.Context())
		if r.URL.Query().Has("set") {
			_ = s.Set(r.Context(), User{ID: "cc"})
		} else {
			_, _, _ = s.Get(r.Context())
		}
		fmt.Fprint(w, "cc")
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s|%s", r.Header.Get("X-User"), r.Header.Get("X-User-Again"))
	})
	return mux
}

// UserHeader is middleware that runs after the session middleware and,
// on /user only, tags the request with the user ID, the way flag or
// rate-limit middleware uses session.Manager.UserID.
func UserHeader(m *session.Manager[User], next http.Handler) http.Handler {
	uid := m.UserID(func(u User) string { return u.ID })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/user" {
			r.Header.Set("X-User", uid(r))
			r.Header.Set("X-User-Again", uid(r))
		}
		next.ServeHTTP(w, r)
	})
}

// Case is one shared test.
type Case struct {
	Name string
	Opts session.Options
	Run  func(t *testing.T, e *Env)
}

// Run runs every case against the middleware that wrap applies.
func Run(t *testing.T, wrap Wrap) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			c.Run(t, NewEnv(t, wrap, c.Opts))
		})
	}
}

// Cases returns the shared table.
func Cases() []Case {
	return []Case{
		{Name: "unused session makes no KV call", Run: func(t *testing.T, e *Env) {
			e.Login("u1")
			for range 5 {
				resp, body := e.Do("GET", "/noop")
				assert.Equal(t, "noop", body)
				assert.Nil(t, SessionCookie(resp, "session"))
			}
			assert.Equal(t, kvtest.Counts{}, e.KV.Counts())
		}},
		{Name: "read-only session makes one read and no write", Run: func(t *testing.T, e *Env) {
			e.Login("u1")
			for range 5 {
				resp, body := e.Do("GET", "/get")
				assert.Equal(t, "u1:0", body)
				assert.Nil(t, SessionCookie(resp, "session"), "no Set-Cookie for an unchanged session")
			}
			c := e.KV.Counts()
			assert.Equal(t, int64(5), c.Get)
			assert.Zero(t, c.Writes())
		}},
		{Name: "create sets a safe cookie and stores hashed key", Run: func(t *testing.T, e *Env) {
			resp, body := e.Do("POST", "/login?id=alice")
			require.Equal(t, "ok", body)
			c := SessionCookie(resp, "session")
			require.NotNil(t, c)
			assert.True(t, session.ValidToken(c.Value))
			assert.True(t, c.HttpOnly)
			assert.True(t, c.Secure)
			assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
			assert.Equal(t, "/", c.Path)
			assert.Equal(t, 86400, c.MaxAge)
			counts := e.KV.Counts()
			assert.Zero(t, counts.Reads(), "no cookie: nothing to read")
			assert.Equal(t, int64(1), counts.Put)
			assert.Equal(t, 1, e.Mem.Len())

			it, found, err := e.Mem.Get(context.Background(), StoreKey(c.Value), kv.GetOptions{})
			require.NoError(t, err)
			require.True(t, found, "the key is the SHA-256 of the token")
			assert.NotContains(t, StoreKey(c.Value), c.Value)
			var rec map[string]any
			require.NoError(t, json.Unmarshal(it.Value, &rec))
			assert.Equal(t, map[string]any{"id": "alice", "role": "user"}, rec["data"])
			assert.InDelta(t, float64(kvtest.Epoch.Add(24*time.Hour).UnixMilli()), rec["expiresAt"], 0)
			assert.Equal(t, kvtest.Epoch.Add(24*time.Hour).Unix(), it.Expiration.Unix(), "KV TTL = lifetime")

			_, body = e.Do("GET", "/get")
			assert.Equal(t, "alice:0", body)
		}},
		{Name: "modify writes once and re-sends the cookie", Run: func(t *testing.T, e *Env) {
			tok := e.Login("u1")
			resp, body := e.Do("POST", "/incr")
			assert.Equal(t, "u1:1", body)
			c := SessionCookie(resp, "session")
			require.NotNil(t, c)
			assert.Equal(t, tok, c.Value, "a change keeps the token")
			counts := e.KV.Counts()
			assert.Equal(t, int64(1), counts.Get)
			assert.Equal(t, int64(1), counts.Put)
			assert.Zero(t, counts.Delete)
		}},
		{Name: "a session cookie keeps the handler's Cache-Control and adds no-store", Run: func(t *testing.T, e *Env) {
			for _, tc := range []struct{ query, wantCC, wantVary string }{
				{"?set&cc=private,+no-store", "private, no-store", "Cookie"},
				{"?set&cc=public,+max-age=60&vary=Accept-Encoding", "public, max-age=60, no-store", "Accept-Encoding, Cookie"},
				{"?set&vary=cookie", "no-store", "cookie"},
				{"?set&cc=no-store", "no-store", "Cookie"},
				{"?set", "no-store", "Cookie"},
			} {
				resp, _ := e.DoCookie("GET", "/cc"+tc.query, "")
				require.NotNil(t, SessionCookie(resp, "session"), tc.query)
				assert.Equal(t, tc.wantCC, strings.Join(resp.Header.Values("Cache-Control"), ", "), tc.query)
				assert.Equal(t, tc.wantVary, strings.Join(resp.Header.Values("Vary"), ", "), tc.query)
			}
			e.Login("u1")
			resp, _ := e.Do("GET", "/cc?cc=public,+max-age=60")
			assert.Nil(t, SessionCookie(resp, "session"))
			assert.Equal(t, "public, max-age=60", resp.Header.Get("Cache-Control"), "no cookie set: the handler's header is untouched")
			resp, _ = e.Do("POST", "/logout")
			require.NotNil(t, SessionCookie(resp, "session"))
			assert.Contains(t, resp.Header.Get("Cache-Control"), "no-store", "an expired cookie too")
		}},
		{Name: "malformed cookies make no KV call", Run: func(t *testing.T, e *Env) {
			good := e.Login("u1")
			bad := map[string]string{
				"empty":           "",
				"too long":        good + "A",
				"too short":       good[:42],
				"wrong alphabet":  good[:41] + "+A",
				"padding":         good[:42] + "=",
				"stray bits":      good[:42] + "B",
				"path traversal":  "../x",
				"10 KB":           strings.Repeat("A", 10<<10),
				"quoted":          `"` + good[:40] + `"`,
				"dots":            "..",
				"prefix injected": "session:" + good[:35],
			}
			for name, v := range bad {
				resp, body := e.DoCookie("GET", "/get", "session="+v)
				assert.Equal(t, http.StatusOK, resp.StatusCode, name)
				assert.Equal(t, "none", body, name)
			}
			assert.Equal(t, kvtest.Counts{}, e.KV.Counts())
			_, body := e.DoCookie("GET", "/get", "other=1; session="+good)
			assert.Equal(t, "u1:0", body, "the well-formed cookie still works")
		}},
		{Name: "a valid-form token for no session is never adopted", Run: func(t *testing.T, e *Env) {
			forged := session.NewToken()
			_, body := e.DoCookie("GET", "/get", "session="+forged)
			assert.Equal(t, "none", body)
			resp, body := e.DoCookie("POST", "/login?id=x", "session="+forged)
			assert.Equal(t, "ok", body)
			c := SessionCookie(resp, "session")
			require.NotNil(t, c)
			assert.NotEqual(t, forged, c.Value)
		}},
		{Name: "expired record is never returned even when the backend has it", Run: func(t *testing.T, e *Env) {
			tok := e.Login("u1")
			e.Clock.Advance(24*time.Hour + time.Second) // the backend's clock stays: KV still has it
			_, found, err := e.Mem.Get(context.Background(), StoreKey(tok), kv.GetOptions{})
			require.NoError(t, err)
			require.True(t, found)
			_, body := e.Do("GET", "/get")
			assert.Equal(t, "none", body)
			assert.Equal(t, int64(1), e.KV.Counts().Delete, "the expired record is removed")
			_, found, err = e.Mem.Get(context.Background(), StoreKey(tok), kv.GetOptions{})
			require.NoError(t, err)
			assert.False(t, found)
		}},
		{Name: "idle timeout with throttled sliding expiry", Opts: session.Options{IdleTimeout: time.Hour}, Run: func(t *testing.T, e *Env) {
			e.Login("u1")
			e.Advance(20 * time.Minute) // 40 min of idle left: no write
			_, body := e.Do("GET", "/get")
			assert.Equal(t, "u1:0", body)
			assert.Zero(t, e.KV.Counts().Writes())
			e.Advance(20 * time.Minute) // 20 min left < 30: one refresh
			resp, body := e.Do("GET", "/get")
			assert.Equal(t, "u1:0", body)
			assert.Equal(t, int64(1), e.KV.Counts().Put)
			assert.Nil(t, SessionCookie(resp, "session"), "a refresh does not resend the cookie")
			e.Do("GET", "/get")
			assert.Equal(t, int64(1), e.KV.Counts().Put, "at most one write per half idle window")
			e.Advance(50 * time.Minute) // 10 min left of the refreshed window
			_, body = e.Do("GET", "/get")
			assert.Equal(t, "u1:0", body)
			e.Advance(61 * time.Minute)
			_, body = e.Do("GET", "/get")
			assert.Equal(t, "none", body)
		}},
		{Name: "idle deadline is enforced even when KV still has the record", Opts: session.Options{IdleTimeout: 10 * time.Minute}, Run: func(t *testing.T, e *Env) {
			e.Login("u1")
			e.Clock.Advance(11 * time.Minute)
			_, body := e.Do("GET", "/get")
			assert.Equal(t, "none", body)
			assert.Equal(t, 0, e.Mem.Len())
		}},
		{Name: "renew removes the old ID", Run: func(t *testing.T, e *Env) {
			old := e.Login("u1")
			resp, body := e.Do("POST", "/renew")
			require.Equal(t, "ok", body)
			c := SessionCookie(resp, "session")
			require.NotNil(t, c)
			assert.NotEqual(t, old, c.Value)
			assert.True(t, session.ValidToken(c.Value))
			counts := e.KV.Counts()
			assert.Equal(t, int64(1), counts.Delete)
			assert.Equal(t, int64(1), counts.Put)
			_, found, _ := e.Mem.Get(context.Background(), StoreKey(old), kv.GetOptions{})
			assert.False(t, found, "old record deleted")
			_, body = e.DoCookie("GET", "/get", "session="+old)
			assert.Equal(t, "none", body)
			_, body = e.Do("GET", "/get")
			assert.Equal(t, "u1:0", body, "the data moved to the new token")
		}},
		{Name: "destroy deletes the record and expires the cookie", Run: func(t *testing.T, e *Env) {
			tok := e.Login("u1")
			resp, body := e.Do("POST", "/logout")
			require.Equal(t, "bye", body)
			c := SessionCookie(resp, "session")
			require.NotNil(t, c)
			assert.Equal(t, -1, c.MaxAge, "Max-Age=0 on the wire")
			assert.Empty(t, c.Value)
			counts := e.KV.Counts()
			assert.Zero(t, counts.Reads(), "destroy needs no read")
			assert.Equal(t, int64(1), counts.Delete)
			assert.Equal(t, 0, e.Mem.Len())
			assert.Empty(t, e.Token(), "the jar dropped the cookie")
			_, body = e.DoCookie("GET", "/get", "session="+tok)
			assert.Equal(t, "none", body)
		}},
		{Name: "remember me sets a longer lifetime and a persistent cookie", Opts: session.Options{Cookie: session.Cookie{BrowserSession: true}}, Run: func(t *testing.T, e *Env) {
			resp, _ := e.Do("POST", "/login?id=u1")
			c := SessionCookie(resp, "session")
			require.NotNil(t, c)
			assert.Zero(t, c.MaxAge, "browser-session cookie")
			resp, body := e.Do("POST", "/remember")
			require.Equal(t, "ok", body)
			c = SessionCookie(resp, "session")
			require.NotNil(t, c)
			assert.Equal(t, 30*24*3600, c.MaxAge)
			it, found, err := e.Mem.Get(context.Background(), StoreKey(c.Value), kv.GetOptions{})
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, kvtest.Epoch.Add(30*24*time.Hour).Unix(), it.Expiration.Unix())
			e.Advance(25 * time.Hour)
			_, body = e.Do("GET", "/get")
			assert.Equal(t, "u1:0", body, "alive past the default 24 h")
		}},
		{Name: "KV TTL is never under the 60 s minimum", Run: func(t *testing.T, e *Env) {
			tok := e.Login("u1")
			e.Advance(24*time.Hour - 30*time.Second)
			_, body := e.Do("POST", "/incr")
			require.Equal(t, "u1:1", body)
			it, found, err := e.Mem.Get(context.Background(), StoreKey(tok), kv.GetOptions{})
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, e.KVClock.Now().Add(kv.MinTTL).Unix(), it.Expiration.Unix())
			e.Clock.Advance(31 * time.Second)
			_, body = e.Do("GET", "/get")
			assert.Equal(t, "none", body, "the record's own deadline still wins")
		}},
		{Name: "commit happens before a streamed first byte", Run: func(t *testing.T, e *Env) {
			e.Login("u1")
			resp, body := e.Do("GET", "/stream")
			assert.Equal(t, "chunk1;late:true", body)
			assert.NotNil(t, SessionCookie(resp, "session"))
			assert.Equal(t, int64(1), e.KV.Counts().Put)
			_, body = e.Do("GET", "/get")
			assert.Equal(t, "u1:1", body, "the change before the first byte was saved, the late one refused")
		}},
		{Name: "ResponseController, ReaderFrom and Hijacker keep working", Run: func(t *testing.T, e *Env) {
			resp, body := e.Do("GET", "/controller")
			assert.Equal(t, "flush:<nil>", body)
			assert.NotNil(t, SessionCookie(resp, "session"))
			resp, body = e.Do("GET", "/readfrom")
			assert.Equal(t, "copied:true", body)
			assert.NotNil(t, SessionCookie(resp, "session"))
			e.KV.Reset()
			_, body = e.Do("GET", "/hijack")
			assert.Equal(t, "hijacked", body)
			assert.Equal(t, int64(1), e.KV.Counts().Put, "committed before the hijack")
		}},
		{Name: "handler that writes nothing still commits", Run: func(t *testing.T, e *Env) {
			e.Login("u1")
			resp, _ := e.Do("GET", "/silent")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, int64(1), e.KV.Counts().Get)
			assert.Zero(t, e.KV.Counts().Writes())
		}},
		{Name: "KV error on load gives an error response, nothing half-written", Run: func(t *testing.T, e *Env) {
			tok := e.Login("u1")
			e.KV.FailWith(kv.ErrUnavailable)
			resp, body := e.Do("GET", "/get")
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			assert.NotContains(t, body, "error", "the handler's output is dropped")
			assert.NotContains(t, body, StoreKey(tok))
			assert.NotContains(t, body, "goroutine")
			assert.Nil(t, SessionCookie(resp, "session"))
			e.KV.FailWith(nil)
			_, body = e.Do("GET", "/get")
			assert.Equal(t, "u1:0", body)
		}},
		{Name: "KV error after a handler that wrote nothing gives an error response", Run: func(t *testing.T, e *Env) {
			e.Login("u1")
			e.KV.FailWith(kv.ErrUnavailable)
			resp, body := e.Do("GET", "/silent")
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			assert.NotContains(t, body, "session:")
			assert.Nil(t, SessionCookie(resp, "session"))
			e.KV.FailWith(nil)
		}},
		{Name: "KV error on save gives an error response, nothing half-written", Run: func(t *testing.T, e *Env) {
			e.KV.FailWith(kv.ErrRateLimited)
			resp, body := e.Do("POST", "/login?id=mallory") // no cookie: only the put fails
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			assert.NotContains(t, body, "ok")
			assert.Nil(t, SessionCookie(resp, "session"), "no cookie for a session that was not saved")
			c := e.KV.Counts()
			assert.Equal(t, int64(1), c.Put)
			assert.Zero(t, c.Reads())
			e.KV.FailWith(nil)
			assert.Equal(t, 0, e.Mem.Len())
		}},
		{Name: "concurrent requests on one session are race-free", Run: func(t *testing.T, e *Env) {
			e.Login("u1")
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					path, method := "/get", "GET"
					switch i % 4 {
					case 1:
						path, method = "/incr", "POST"
					case 2:
						path = "/parallel"
					}
					resp, body := e.Do(method, path)
					assert.Equal(t, http.StatusOK, resp.StatusCode)
					assert.True(t, strings.HasPrefix(body, "u1:"), body)
				})
			}
			wg.Wait()
			_, body := e.Do("GET", "/get")
			assert.True(t, strings.HasPrefix(body, "u1:"), body)
			n, err := strconv.Atoi(strings.TrimPrefix(body, "u1:"))
			require.NoError(t, err)
			assert.Positive(t, n, "last write wins, but some increment landed")
		}},
		{Name: "user ID for other middleware shares the lazy load", Run: func(t *testing.T, e *Env) {
			e.Login("u7")
			_, body := e.Do("GET", "/user")
			assert.Equal(t, "u7|u7", body)
			assert.Equal(t, int64(1), e.KV.Counts().Get)
			e.Client.Jar, _ = cookiejar.New(nil)
			_, body = e.Do("GET", "/user")
			assert.Equal(t, "|", body)
		}},
		{Name: "custom prefix and cookie settings", Opts: session.Options{Prefix: "s/", Cookie: session.Cookie{Name: "sid", Domain: "127.0.0.1", Path: "/app", SameSite: http.SameSiteStrictMode, ScriptAccess: true}}, Run: func(t *testing.T, e *Env) {
			resp, _ := e.Do("POST", "/login?id=u1")
			c := SessionCookie(resp, "sid")
			require.NotNil(t, c)
			assert.Equal(t, "/app", c.Path)
			assert.Equal(t, "127.0.0.1", c.Domain)
			assert.Equal(t, http.SameSiteStrictMode, c.SameSite)
			assert.False(t, c.HttpOnly)
			list, err := e.Mem.List(context.Background(), kv.ListOptions{Prefix: "s/"})
			require.NoError(t, err)
			assert.Len(t, list.Keys, 1)
		}},
		{Name: "read cache: 100 page views cost one read, sign-out is immediate", Opts: session.Options{CacheTTL: 5 * time.Second}, Run: func(t *testing.T, e *Env) {
			tok := e.Login("u1") // the login's write fills the cache
			e.Advance(5 * time.Second)
			for range 100 {
				_, body := e.Do("GET", "/get")
				require.Equal(t, "u1:0", body)
			}
			assert.Equal(t, int64(1), e.KV.Counts().Get, "one read for 100 signed-in page views")
			assert.Equal(t, int64(1), e.KV.Counts().Total())

			_, body := e.Do("POST", "/logout")
			require.Equal(t, "bye", body)
			e.KV.Reset()
			_, body = e.DoCookie("GET", "/get", "session="+tok) // a replayed cookie
			assert.Equal(t, "none", body, "signed out at once in this process")
			assert.Zero(t, e.KV.Counts().Get, "known absent: no read")
		}},
	}
}
