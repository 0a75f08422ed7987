package session

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvkit/kvkit/internal/reqmark"
	"github.com/kvkit/kvkit/internal/sessionhttp"
	"github.com/kvkit/kvkit/kv"
)

// Session is one request's view of a session. It loads the record on first
// access, tracks changes made through its methods, and is saved by Commit
// (which the middleware calls before the response's first byte). Its
// methods are safe for concurrent use by the handler's goroutines. A nil
// *Session returns ErrNoMiddleware.
//
// Only the methods that change the session (Set, Update, Renew, Destroy,
// SetLifetime) cause a write; a session that is only read costs one KV read
// (none when Options.CacheTTL is set and the record is cached), and one that
// is not touched costs none.
type Session[T any] struct {
	m   *Manager[T]
	ctx sessionCtx[T]

	mu sync.Mutex
	// cookies are the request's Cookie header lines, where the token is
	// looked for on first access (Start parses nothing).
	cookies []string
	// st is everything a session needs once it is used, allocated then: a
	// request that never touches its session costs no more than the
	// Session itself (which Start allocates with the middleware's writer).
	// Methods use it under mu; it is set once, with a compare-and-swap, as
	// the request's mark may be asked for without mu (sessionCtx.Value).
	st atomic.Pointer[state[T]]

	// The flags sit together: padding after each would cost bytes of
	// every request's allocation.
	loaded    bool
	exists    bool // a live record is loaded or created
	modified  bool // record must be written
	touched   bool // only the idle deadline must be written
	destroyed bool
	newCookie bool // the token changed: send it
	committed bool

	hw *sessionhttp.Writer // allocated with s by Start; nil from Open
}

// state is a Session's state once used (Session.state).
type state[T any] struct {
	token     string // valid incoming token, or the new one after create/renew
	key       string // KV key of the loaded record ("" when none)
	loadErr   error
	rec       record[T]
	oldKey    string // record to delete at commit (renew, destroy)
	cookie    *http.Cookie
	commitErr error

	// mark is the request's reqmark.Mark (ownMark when no layer outside
	// had one): set when the response comes to depend on this session.
	mark      *reqmark.Mark
	hadCookie bool // the request carried a session cookie (any value)
	ownMark   reqmark.Mark
}

// state returns s's state, making it on first use: the token from the
// session cookie, and the request's mark.
func (s *Session[T]) state() *state[T] {
	if st := s.st.Load(); st != nil {
		return st
	}
	st := new(state[T])
	st.setToken(cookieValue(s.cookies, s.m.cookie.Name))
	st.mark = reqmark.From(s.ctx.Context) // a layer outside (the response cache) may have one
	if st.mark == nil {
		st.mark = &st.ownMark
	}
	if s.st.CompareAndSwap(nil, st) {
		return st
	}
	return s.st.Load()
}

// setToken records the token the client presented: a cookie that is not
// exactly a token of this package's form is ignored (no KV call is made
// for it), but counts as a cookie sent.
func (st *state[T]) setToken(token string) {
	if token != "" {
		st.hadCookie = true
		if ValidToken(token) {
			st.token = token
		}
	}
}

// Context implements Pending: the request's context carrying s.
func (s *Session[T]) Context() context.Context { return &s.ctx }

// load reads the record once. Callers hold s.mu.
func (s *Session[T]) load(ctx context.Context) error {
	st := s.state()
	if st.hadCookie {
		// A page rendered after reading the session the client presented
		// is that client's: no shared cache may store it.
		st.mark.SetPersonal()
	}
	if s.loaded {
		return st.loadErr
	}
	s.loaded = true
	if st.token == "" {
		return nil
	}
	key := s.m.storeKey(st.token)
	c := s.m.cache
	var value []byte
	var gen uint64
	hit, decoded := false, false
	if c != nil {
		if e, ok := c.get(key); ok {
			if !e.found() {
				return nil // known absent
			}
			if e.rec != nil {
				st.rec, hit, decoded = *e.rec, true, true
			} else {
				value, hit = e.value, true
			}
		} else {
			gen = c.gen(key)
		}
	}
	if !hit {
		it, found, err := s.m.ns.Get(ctx, key, kv.GetOptions{})
		if err != nil {
			st.loadErr = err
			return err
		}
		if !found {
			if c != nil {
				c.fill(key, gen, nil, nil, c.ttl)
			}
			return nil
		}
		value = it.Value
	}
	// Decode straight into the Session (no second copy of T on the heap).
	rec := &st.rec
	if !decoded {
		if err := decodeRecord(value, rec, s.m.plan); err != nil {
			*rec = record[T]{}
			st.loadErr = &kv.Error{Op: "session.load", Key: key, Err: errors.Join(kv.ErrCodec, err)}
			return st.loadErr
		}
	}
	now := s.m.now().UnixMilli()
	if now >= rec.deadline() {
		*rec = record[T]{}
		// KV deletes expired keys only eventually (and our record may
		// outlive its own expiry by up to kv.MinTTL): treat it as absent
		// and remove it. A failed delete is harmless, the record is dead.
		if err := s.m.delete(ctx, key); err != nil {
			s.m.logError(ctx, "session: delete of an expired record failed", err)
		}
		return nil
	}
	if !hit && c != nil {
		c.fill(key, gen, value, rec, time.Duration(rec.deadline()-now)*time.Millisecond)
	}
	st.key, s.exists = key, true
	if rec.IdleTimeout > 0 && rec.IdleExpiresAt-now < rec.IdleTimeout/2 && rec.IdleExpiresAt < rec.ExpiresAt {
		// Throttled sliding expiry: refresh only when less than half the
		// idle window remains.
		st.rec.IdleExpiresAt = min(now+rec.IdleTimeout, rec.ExpiresAt)
		s.touched = true
	}
	return nil
}

// Get returns the session's data, and false when there is no session (the
// zero T). It loads the record on first use. The returned value is a
// shallow copy: change the session through Set or Update, never by
// mutating maps or slices inside the result.
func (s *Session[T]) Get(ctx context.Context) (T, bool, error) {
	var zero T
	if s == nil {
		return zero, false, ErrNoMiddleware
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	if err := s.load(ctx); err != nil {
		return zero, false, err
	}
	if !s.exists {
		return zero, false, nil
	}
	return st.rec.Data, true, nil
}

// Exists reports whether there is a session, loading it on first use.
func (s *Session[T]) Exists(ctx context.Context) (bool, error) {
	_, ok, err := s.Get(ctx)
	return ok, err
}

// Expires reports when the session ends: the earlier of its absolute
// lifetime and its idle deadline, as stored (the idle deadline slides only
// when it is written). ok is false when there is no session.
func (s *Session[T]) Expires(ctx context.Context) (t time.Time, ok bool, err error) {
	if s == nil {
		return time.Time{}, false, ErrNoMiddleware
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	if err := s.load(ctx); err != nil {
		return time.Time{}, false, err
	}
	if !s.exists {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(st.rec.deadline()), true, nil
}

// Set replaces the session's data, creating the session (with a new
// token) when there is none.
func (s *Session[T]) Set(ctx context.Context, v T) error {
	return s.Update(ctx, func(p *T) error { *p = v; return nil })
}

// Update changes the session's data in place through fn, creating the
// session (with a new token) when there is none. If fn fails nothing
// changes and its error is returned.
func (s *Session[T]) Update(ctx context.Context, fn func(*T) error) error {
	if s == nil {
		return ErrNoMiddleware
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	if err := s.mutable(ctx); err != nil {
		return err
	}
	data := st.rec.Data
	if err := fn(&data); err != nil {
		return err
	}
	s.ensure()
	st.rec.Data = data
	s.modified = true
	st.mark.SetPersonal()
	return nil
}

// mutable loads the session and checks that it can still change.
func (s *Session[T]) mutable(ctx context.Context) error {
	if s.committed {
		return ErrCommitted
	}
	return s.load(ctx)
}

// ensure creates the session if there is none. Callers hold s.mu.
func (s *Session[T]) ensure() {
	st := s.state()
	if s.exists {
		return
	}
	now := s.m.now()
	s.exists, s.destroyed = true, false
	st.rec = record[T]{CreatedAt: now.UnixMilli()}
	s.setLifetime(now, Lifetime{})
	// Never adopt a token the client sent for a session that does not
	// exist (session fixation): always mint a new one.
	st.token, s.newCookie = NewToken(), true
}

// Lifetime sets the limits of one session, e.g. a longer one on "remember
// me" sign-in.
type Lifetime struct {
	// Absolute lifetime, counted from the SetLifetime call. Optional.
	// Default: the Manager's Lifetime. At least kv.MinTTL.
	Absolute time.Duration
	// Idle timeout. Optional. Default: the Manager's IdleTimeout; a negative
	// value turns it off for this session. Otherwise at least kv.MinTTL.
	Idle time.Duration
	// Persist asks for a persistent cookie even when the Manager sends
	// browser-session cookies. Optional. Default: false.
	Persist bool
}

func (s *Session[T]) setLifetime(now time.Time, l Lifetime) {
	st := s.state()
	if l.Absolute == 0 {
		l.Absolute = s.m.lifetime
	}
	if l.Idle == 0 {
		l.Idle = s.m.idle
	}
	ms := now.UnixMilli()
	st.rec.ExpiresAt = ms + l.Absolute.Milliseconds()
	st.rec.IdleTimeout, st.rec.IdleExpiresAt = 0, 0
	if l.Idle > 0 {
		st.rec.IdleTimeout = l.Idle.Milliseconds()
		st.rec.IdleExpiresAt = min(ms+st.rec.IdleTimeout, st.rec.ExpiresAt)
	}
	st.rec.Persist = l.Persist
}

// SetLifetime sets this session's absolute lifetime (from now), idle
// timeout and cookie persistence, creating the session when there is none.
// The cookie is sent again with the new Max-Age.
func (s *Session[T]) SetLifetime(ctx context.Context, l Lifetime) error {
	if s == nil {
		return ErrNoMiddleware
	}
	if l.Absolute < 0 || (l.Absolute > 0 && l.Absolute < kv.MinTTL) || (l.Idle > 0 && l.Idle < kv.MinTTL) {
		return errors.Join(kv.ErrInvalidOptions, errors.New("session: lifetime and idle timeout must be at least 60s"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	if err := s.mutable(ctx); err != nil {
		return err
	}
	s.ensure()
	s.setLifetime(s.m.now(), l)
	s.modified, s.newCookie = true, true
	st.mark.SetPersonal()
	return nil
}

// Renew gives the session a new token and deletes the old record when the
// session is committed: the defence against session fixation. Call it on
// sign-in and on every change of privilege. Without a session it does
// nothing.
func (s *Session[T]) Renew(ctx context.Context) error {
	if s == nil {
		return ErrNoMiddleware
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	if err := s.mutable(ctx); err != nil {
		return err
	}
	if !s.exists {
		return nil
	}
	if st.key != "" && st.oldKey == "" {
		st.oldKey, st.key = st.key, ""
	}
	st.token, s.newCookie, s.modified = NewToken(), true, true
	st.mark.SetPersonal()
	return nil
}

// Destroy ends the session: at commit its record is deleted and the cookie
// expired. It makes no read. See the package doc for what sign-out means
// across several locations.
func (s *Session[T]) Destroy(ctx context.Context) error {
	if s == nil {
		return ErrNoMiddleware
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	if s.committed {
		return ErrCommitted
	}
	if st.key != "" {
		st.oldKey = st.key
	} else if st.token != "" && !s.loaded {
		// Not loaded: delete what the cookie names without reading it.
		st.oldKey = s.m.storeKey(st.token)
	}
	s.loaded, st.loadErr = true, nil
	s.exists, st.key, st.token = false, "", ""
	st.rec = record[T]{}
	s.modified, s.touched, s.destroyed = false, false, true
	st.mark.SetPersonal()
	return nil
}

// Commit implements Pending: it saves what changed (at most one delete and
// one write) and returns the cookie to send, or nil when the cookie need
// not change. A failed load is reported here too, so the middleware can
// answer with an error instead of a half-done response. Commit runs once;
// later changes fail with ErrCommitted.
func (s *Session[T]) Commit(ctx context.Context) (*http.Cookie, error) {
	if s == nil {
		return nil, ErrNoMiddleware
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st.Load()
	if st == nil {
		// Never used: nothing to save, no cookie to send.
		s.committed = true
		return nil, nil
	}
	if s.committed {
		return st.cookie, st.commitErr
	}
	s.committed = true
	st.cookie, st.commitErr = s.commit(ctx)
	if st.commitErr != nil {
		st.cookie = nil
		s.m.logError(ctx, "session: commit failed", st.commitErr)
	}
	return st.cookie, st.commitErr
}

func (s *Session[T]) commit(ctx context.Context) (*http.Cookie, error) {
	st := s.state()
	if st.loadErr != nil {
		return nil, st.loadErr
	}
	if s.destroyed && !s.exists {
		if st.oldKey != "" {
			if err := s.m.delete(ctx, st.oldKey); err != nil {
				return nil, err
			}
		}
		if !st.hadCookie {
			return nil, nil
		}
		return s.m.expiredCookie(), nil
	}
	if !s.modified && !s.touched {
		return nil, nil
	}
	// Delete the old record first: if the write then fails the user is
	// signed out, never left on a token an attacker may know.
	if st.oldKey != "" {
		if err := s.m.delete(ctx, st.oldKey); err != nil {
			return nil, err
		}
		st.oldKey = ""
	}
	now := s.m.now()
	ms := now.UnixMilli()
	remaining := time.Duration(st.rec.deadline()-ms) * time.Millisecond
	if remaining <= 0 {
		// Expired while the request ran: nothing worth saving.
		return s.m.expiredCookie(), nil
	}
	value, err := encodeRecord(&st.rec)
	if err != nil {
		return nil, &kv.Error{Op: "session.save", Err: errors.Join(kv.ErrCodec, err)}
	}
	if st.key == "" {
		st.key = s.m.storeKey(st.token)
	}
	if err := s.m.put(ctx, st.key, value, &st.rec, remaining); err != nil {
		return nil, err
	}
	if !s.newCookie && !s.modified {
		return nil, nil // a sliding refresh: the cookie is unchanged
	}
	absolute := time.Duration(st.rec.ExpiresAt-ms) * time.Millisecond
	return s.m.newCookie(st.token, absolute, st.rec.Persist), nil
}

// delete deletes the record under key, keeping the read cache in step: in
// this process the record is absent as soon as the delete succeeds.
func (m *Manager[T]) delete(ctx context.Context, key string) error {
	if m.cache == nil {
		return m.ns.Delete(ctx, key)
	}
	gen := m.cache.begin(key)
	err := m.ns.Delete(ctx, key)
	m.cache.end(key, gen, err == nil, nil, nil, m.cache.ttl)
	return err
}

// put writes a record valid for remaining, keeping the read cache in step:
// in this process the new record is what loads see once the write succeeds.
func (m *Manager[T]) put(ctx context.Context, key string, value []byte, rec *record[T], remaining time.Duration) error {
	if m.cache == nil {
		return m.ns.Put(ctx, key, value, kv.PutOptions{TTL: kvTTL(remaining)})
	}
	gen := m.cache.begin(key)
	err := m.ns.Put(ctx, key, value, kv.PutOptions{TTL: kvTTL(remaining)})
	m.cache.end(key, gen, err == nil, value, rec, remaining)
	return err
}

// kvTTL rounds d up to whole seconds, never under kv.MinTTL.
func kvTTL(d time.Duration) time.Duration {
	d = (d + time.Second - 1).Truncate(time.Second)
	return max(d, kv.MinTTL)
}

func (m *Manager[T]) baseCookie(value string) *http.Cookie {
	return &http.Cookie{
		Name: m.cookie.Name, Value: value, Path: m.cookie.Path, Domain: m.cookie.Domain,
		Secure: !m.cookie.Insecure, HttpOnly: !m.cookie.ScriptAccess, SameSite: m.cookie.SameSite,
	}
}

func (m *Manager[T]) newCookie(token string, lifetime time.Duration, persist bool) *http.Cookie {
	c := m.baseCookie(token)
	if !m.cookie.BrowserSession || persist {
		// Rounded up, as the record's KV TTL is (kvTTL): the milliseconds
		// spent since the session began must not cut a second off.
		c.MaxAge = max(int((lifetime+time.Second-1)/time.Second), 1)
	}
	return c
}

func (m *Manager[T]) expiredCookie() *http.Cookie {
	c := m.baseCookie("")
	c.MaxAge = -1
	c.Expires = time.Unix(1, 0)
	return c
}
