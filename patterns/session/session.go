package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/kvkit/kvkit/internal/reqmark"
	"github.com/kvkit/kvkit/internal/sessionhttp"
	"github.com/kvkit/kvkit/kv"
)

// Defaults for Options and Cookie.
const (
	DefaultPrefix     = "session:"
	DefaultLifetime   = 24 * time.Hour
	DefaultCookieName = "session"
)

// TokenLen is the length of a session token: 256 random bits in unpadded
// URL-safe base64 (RFC 4648 §5).
const TokenLen = 43

// sessionError is the type of the package's sentinels: constants, so no
// other package can reassign them.
type sessionError string

func (e sessionError) Error() string { return string(e) }

const (
	// ErrNoMiddleware is returned by the methods of a nil *Session: the
	// request did not pass through the session middleware of this Manager.
	ErrNoMiddleware sessionError = "session: no session middleware for this manager on the request"
	// ErrCommitted is returned by a change made after the session was
	// committed (the response had started): it could no longer be saved.
	ErrCommitted sessionError = "session: change after the response started"
)

// Options configures a Manager. The zero value is ready to use.
type Options struct {
	// Prefix is prepended to every record's key. Optional. Default:
	// "session:".
	Prefix string
	// Lifetime is the absolute lifetime of a session, counted from its
	// creation (or from the last SetLifetime). Optional. Default: 24 h.
	Lifetime time.Duration
	// IdleTimeout ends a session that has not been used for this long. The
	// stored idle deadline is refreshed at most once per half IdleTimeout
	// (see the package doc). Optional. Default: 0 (no idle timeout).
	IdleTimeout time.Duration
	// Cookie configures the session cookie. Optional. Default: see Cookie.
	Cookie Cookie
	// Clock returns the current time. Optional. Default: time.Now. Tests
	// inject a fake clock (kvtest.Clock.Now).
	Clock func() time.Time
	// Logger receives failed loads and saves (at most one line per second;
	// the rest are counted and reported with the next line). Optional.
	// Default: slog.Default().
	Logger *slog.Logger
	// CacheTTL turns on an in-process read cache of session records: a
	// load found in the cache costs no KV call. An entry lives at most
	// CacheTTL and never past the record's own deadline; absolute and idle
	// deadlines are still checked on every load against Clock. Every write
	// this Manager makes (create, save, renew, destroy, sliding refresh)
	// updates the cache at once, so in this process a change, a sign-out
	// or a renewed token is seen immediately. A token with no record is
	// cached as absent too, so a forged but well-formed token costs at most
	// one KV read per CacheTTL.
	//
	// The price: a session destroyed or changed by ANOTHER server (or a
	// Worker sharing the namespace) stays usable here, as it was, for up to
	// CacheTTL, on top of KV's own propagation delay of about 60 s. Keep it
	// short: a few seconds already turns a burst of page views into one
	// read. Optional. Default: 0 (no cache: every load reads KV).
	CacheTTL time.Duration
	// CacheSize bounds the number of records in the read cache (CacheTTL).
	// Optional. Default: 10,000 (DefaultCacheSize).
	CacheSize int
}

// Cookie configures the session cookie. The zero value is the safe
// default: name "session", Path "/", HttpOnly, Secure, SameSite=Lax, and a
// persistent cookie whose Max-Age is the session's remaining lifetime.
type Cookie struct {
	// Name of the cookie. Optional. Default: "session".
	Name string
	// Path of the cookie. Optional. Default: "/".
	Path string
	// Domain of the cookie. Optional. Default: "" (host-only).
	Domain string
	// Insecure drops the Secure attribute (for plain-HTTP development).
	// Optional. Default: false (Secure).
	Insecure bool
	// ScriptAccess drops the HttpOnly attribute. Optional. Default: false
	// (HttpOnly).
	ScriptAccess bool
	// SameSite of the cookie. Optional. Default: http.SameSiteLaxMode.
	// http.SameSiteNoneMode requires Secure.
	SameSite http.SameSite
	// BrowserSession sends a cookie without Max-Age, which the browser
	// drops when it closes; a session can still ask for a persistent cookie
	// with Lifetime.Persist ("remember me"). Optional. Default: false
	// (persistent cookie, Max-Age = remaining lifetime).
	BrowserSession bool
}

// Manager creates, loads, saves, renews and destroys sessions whose data
// is a T, stored as JSON in a kv.Namespace. It is safe for concurrent use
// and starts no goroutines of its own (with Options.CacheTTL and no Clock,
// cache hits read internal/coarse's clock, whose refresher goroutine stops
// by itself shortly after the last read).
type Manager[T any] struct {
	ns       kv.Namespace
	prefix   string
	lifetime time.Duration
	idle     time.Duration
	cookie   Cookie
	now      func() time.Time
	log      *slog.Logger
	key      *contextKey
	cache    *readCache[T] // nil when Options.CacheTTL is 0
	plan     *flatPlan     // decodes a flat T; nil otherwise

	lastLog    atomic.Int64 // unix seconds of the last log line
	suppressed atomic.Int64
}

type contextKey struct{ _ byte }

// New returns a Manager over ns. It fails with an error wrapping
// kv.ErrInvalidOptions for a nil namespace, a prefix that leaves no room
// for a key, negative durations or cache size, a lifetime under
// kv.MinTTL, an invalid cookie name, or SameSite=None without Secure.
func New[T any](ns kv.Namespace, opts Options) (*Manager[T], error) {
	bad := func(msg string) error {
		return &kv.Error{Op: "session.new", Err: errors.Join(kv.ErrInvalidOptions, errors.New(msg))}
	}
	if ns == nil {
		return nil, bad("namespace is nil")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if len(opts.Prefix)+TokenLen > kv.MaxKeySize {
		return nil, bad("prefix leaves no room for a key")
	}
	switch {
	case opts.Lifetime < 0 || opts.IdleTimeout < 0:
		return nil, bad("negative Lifetime or IdleTimeout")
	case opts.Lifetime == 0:
		opts.Lifetime = DefaultLifetime
	}
	if opts.Lifetime < kv.MinTTL || (opts.IdleTimeout != 0 && opts.IdleTimeout < kv.MinTTL) {
		return nil, bad("Lifetime and IdleTimeout must be at least 60s")
	}
	c := &opts.Cookie
	if c.Name == "" {
		c.Name = DefaultCookieName
	}
	if !validCookieName(c.Name) {
		return nil, bad("invalid cookie name " + c.Name)
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
		c.SameSite = http.SameSiteLaxMode
	}
	if c.SameSite == http.SameSiteNoneMode && c.Insecure {
		return nil, bad("SameSite=None requires a Secure cookie")
	}
	if opts.CacheTTL < 0 || opts.CacheSize < 0 {
		return nil, bad("negative CacheTTL or CacheSize")
	}
	var cache *readCache[T]
	if opts.CacheTTL > 0 {
		// The cache's own clock: the injected one, else internal/coarse
		// (an atomic load per hit instead of time.Now).
		var err error
		if cache, err = newReadCache[T](opts.CacheTTL, opts.CacheSize, opts.Clock); err != nil {
			return nil, bad(err.Error())
		}
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	var zero record[T]
	if _, err := json.Marshal(zero); err != nil {
		return nil, &kv.Error{Op: "session.new", Err: errors.Join(kv.ErrInvalidOptions, kv.ErrCodec, err)}
	}
	return &Manager[T]{
		ns: ns, prefix: opts.Prefix, lifetime: opts.Lifetime, idle: opts.IdleTimeout,
		cookie: opts.Cookie, now: opts.Clock, log: opts.Logger, key: new(contextKey), cache: cache,
		plan: planFor(reflect.TypeFor[T]()),
	}, nil
}

// Must is like New but panics on error.
func Must[T any](m *Manager[T], err error) *Manager[T] {
	if err != nil {
		panic(err)
	}
	return m
}

// CookieName returns the name of the session cookie.
func (m *Manager[T]) CookieName() string { return m.cookie.Name }

// Starter is the part of a Manager that middleware uses. It does not
// mention T, so framework adapters need no type parameter. *Manager[T]
// implements it.
type Starter interface {
	// Start begins the session state of one request, reading the session
	// cookie from r. It makes no KV call.
	Start(r *http.Request) Pending
}

// Pending is one request's session state as middleware sees it.
// *Session[T] implements it.
type Pending interface {
	// Context returns the request's context carrying this session, for
	// r.WithContext.
	Context() context.Context
	// Commit saves what changed and returns the cookie to send (nil when
	// none). It runs once; later calls return the first result.
	Commit(ctx context.Context) (*http.Cookie, error)
}

var _ Starter = (*Manager[struct{}])(nil)

// Start implements Starter: it returns the request's *Session[T] (as a
// Pending), reading the token from the session cookie. A cookie that is not
// exactly a token of this package's form is ignored: no KV call is made for
// it. Start itself makes no KV call; the record is loaded on first access.
func (m *Manager[T]) Start(r *http.Request) Pending {
	// One allocation for the whole request: the session, and the writer
	// (with its copy of the request) the middleware finds through the
	// session's context. What a used session needs more (its state: the
	// token, the record...) comes on first use, so an untouched session
	// costs this allocation only, and no parsing.
	st := new(started[T])
	s := &st.s
	s.m, s.ctx.s, s.ctx.Context = m, s, r.Context()
	s.cookies = r.Header["Cookie"]
	s.hw = &st.hw
	return s
}

// Open returns the session named by token, for use outside HTTP
// middleware (the middleware calls Start). An empty or malformed token
// gives an absent session. Open makes no KV call.
func (m *Manager[T]) Open(token string) *Session[T] {
	// A session opened is used: its state comes in the same allocation.
	o := new(opened[T])
	s := &o.s
	s.m, s.ctx.s, s.ctx.Context = m, s, context.Background()
	o.st.setToken(token)
	o.st.mark = &o.st.ownMark
	s.st.Store(&o.st)
	return s
}

// started is what Start allocates: a session and its middleware's writer.
type started[T any] struct {
	s  Session[T]
	hw sessionhttp.Writer
}

// opened is what Open allocates: a session and its state.
type opened[T any] struct {
	s  Session[T]
	st state[T]
}

// FromContext returns the session the middleware put in ctx for this
// Manager, or nil (whose methods return ErrNoMiddleware).
func (m *Manager[T]) FromContext(ctx context.Context) *Session[T] {
	s, _ := ctx.Value(m.key).(*Session[T])
	return s
}

// UserID returns a function that reads the current user's ID from the
// request's session, for other middleware (feature flags, rate limits)
// that take a func(*http.Request) string. extract maps the session data to
// an ID; the function returns "" when the request has no session (or no
// session middleware, or loading failed: the load error is then reported
// when the session middleware commits). It shares the request's lazy load,
// so a handler reading the session afterwards makes no second KV call.
func (m *Manager[T]) UserID(extract func(T) string) func(*http.Request) string {
	return func(r *http.Request) string {
		s := m.FromContext(r.Context())
		v, ok, err := s.Get(r.Context())
		if err != nil || !ok {
			return ""
		}
		return extract(v)
	}
}

// record is what KV stores. Times are milliseconds since the Unix epoch,
// like a JavaScript Date.now(), so a TypeScript Worker sharing the
// namespace can check them too.
type record[T any] struct {
	Data          T     `json:"data"`
	CreatedAt     int64 `json:"createdAt"`
	ExpiresAt     int64 `json:"expiresAt"`
	IdleTimeout   int64 `json:"idleTimeout,omitempty"`
	IdleExpiresAt int64 `json:"idleExpiresAt,omitempty"`
	Persist       bool  `json:"persist,omitempty"`
}

// deadline is when the record stops being valid (ms).
func (r *record[T]) deadline() int64 {
	if r.IdleExpiresAt != 0 && r.IdleExpiresAt < r.ExpiresAt {
		return r.IdleExpiresAt
	}
	return r.ExpiresAt
}

// NewToken returns a fresh token: 256 bits from crypto/rand in unpadded
// URL-safe base64.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand docs)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidToken reports whether s has exactly the form NewToken produces:
// 43 characters of the URL-safe base64 alphabet whose last character
// carries no stray bits. It allocates nothing.
func ValidToken(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	for i := 0; i < TokenLen; i++ {
		if b64val[s[i]] == 0xff {
			return false
		}
	}
	return b64val[s[TokenLen-1]]&3 == 0
}

var b64val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// storeKey returns the KV key of token: the prefix and the SHA-256 of the
// token in unpadded URL-safe base64. Listing the namespace therefore never
// reveals a usable token.
func (m *Manager[T]) storeKey(token string) string {
	// Copy to the stack: []byte(token) would allocate (over 32 bytes).
	var tb [TokenLen]byte
	sum := sha256.Sum256(tb[:copy(tb[:], token)])
	var buf [64 + TokenLen]byte
	b := append(buf[:0], m.prefix...)
	b = base64.RawURLEncoding.AppendEncode(b, sum[:])
	return string(b)
}

// logError logs err at most once per second.
func (m *Manager[T]) logError(ctx context.Context, msg string, err error) {
	now := m.now().Unix()
	last := m.lastLog.Load()
	if now <= last || !m.lastLog.CompareAndSwap(last, now) {
		m.suppressed.Add(1)
		return
	}
	m.log.LogAttrs(ctx, slog.LevelError, msg, slog.String("error", err.Error()),
		slog.Int64("suppressed", m.suppressed.Swap(0)))
}

// cookieValue returns the value of the first cookie called name in the
// Cookie header lines, without allocating.
func cookieValue(lines []string, name string) string {
	for _, line := range lines {
		for len(line) > 0 {
			var part string
			if i := indexByte(line, ';'); i >= 0 {
				part, line = line[:i], line[i+1:]
			} else {
				part, line = line, ""
			}
			part = trimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				v := part[len(name)+1:]
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func validCookieName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || indexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return n != ""
}

// sessionCtx is the request context carrying a session. It lives inside
// the Session so that starting a request's session costs one allocation.
type sessionCtx[T any] struct {
	context.Context
	s *Session[T]
}

func (c *sessionCtx[T]) Value(key any) any {
	if k, ok := key.(*contextKey); ok && k == c.s.m.key {
		return c.s
	}
	if key == reqmark.Key {
		// The request's mark, so that a response cache inside this
		// middleware sees when the session makes the response personal.
		return c.s.state().mark
	}
	if key == sessionhttp.Key {
		// The middleware's writer, allocated with the session by Start.
		if c.s.hw != nil {
			return c.s.hw
		}
		return nil
	}
	return c.Context.Value(key)
}
