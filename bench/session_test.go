package bench

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/session"
)

// sessionUser is the session data: the same three fields in both libraries.
type sessionUser struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	Count int    `json:"count"`
}

// sessionCase is a handler shape: (a) read, (b) modify, (c) untouched.
type sessionCase struct {
	name string
	ours func(m *session.Manager[sessionUser]) http.HandlerFunc
	scs  func(sm *scs.SessionManager) http.HandlerFunc
}

var sessionOK = []byte("ok")

var sessionCases = []sessionCase{
	{
		name: "read",
		ours: func(m *session.Manager[sessionUser]) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				u, ok, err := m.FromContext(r.Context()).Get(r.Context())
				if err != nil || !ok || u.ID == "" {
					panic("no session")
				}
				_, _ = w.Write(sessionOK)
			}
		},
		scs: func(sm *scs.SessionManager) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if sm.GetString(r.Context(), "id") == "" {
					panic("no session")
				}
				_ = sm.GetString(r.Context(), "role")
				_ = sm.GetInt(r.Context(), "count")
				_, _ = w.Write(sessionOK)
			}
		},
	},
	{
		name: "modify",
		ours: func(m *session.Manager[sessionUser]) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				err := m.FromContext(r.Context()).Update(r.Context(), func(u *sessionUser) error { u.Count++; return nil })
				if err != nil {
					panic(err)
				}
				_, _ = w.Write(sessionOK)
			}
		},
		scs: func(sm *scs.SessionManager) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				sm.Put(r.Context(), "count", sm.GetInt(r.Context(), "count")+1)
				_, _ = w.Write(sessionOK)
			}
		},
	},
	{
		name: "untouched",
		ours: func(*session.Manager[sessionUser]) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(sessionOK) }
		},
		scs: func(*scs.SessionManager) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(sessionOK) }
		},
	},
}

// sessionOurs returns our middleware over kv/memory and a signed-in cookie.
func sessionOurs(tb testing.TB, handler func(*session.Manager[sessionUser]) http.HandlerFunc) (http.Handler, string) {
	m := session.Must(session.New[sessionUser](memory.New(memory.Options{}), session.Options{}))
	s := m.Open("")
	require.NoError(tb, s.Set(context.Background(), sessionUser{ID: "u1", Role: "admin"}))
	c, err := s.Commit(context.Background())
	require.NoError(tb, err)
	return nethttp.Session(m)(handler(m)), "session=" + c.Value
}

// sessionSCS returns scs's LoadAndSave over its memstore and a signed-in
// cookie.
func sessionSCS(tb testing.TB, handler func(*scs.SessionManager) http.HandlerFunc) (http.Handler, string) {
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0) // no goroutine
	login := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "id", "u1")
		sm.Put(r.Context(), "role", "admin")
		sm.Put(r.Context(), "count", 0)
	}))
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cs := rec.Result().Cookies()
	require.Len(tb, cs, 1)
	return sm.LoadAndSave(handler(sm)), "session=" + cs[0].Value
}

// sessionServe is one request as a server sees it: a new request carrying
// the cookie and a new response recorder, served by h.
func sessionServe(h http.Handler, cookie string) {
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", cookie)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		panic(rec.Code)
	}
}

// BenchmarkSession measures the per-request cost of our net/http session
// middleware and of scs v2 + memstore for (a) read, (b) modify and (c) a
// session cookie present but untouched, plus the bare handler, in one run.
// Each iteration builds the request and recorder, as a server would.
func BenchmarkSession(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(sessionOK) })
		b.ReportAllocs()
		for b.Loop() {
			sessionServe(h, "session=x")
		}
	})
	for _, c := range sessionCases {
		b.Run(c.name+"/kvkit", func(b *testing.B) {
			h, cookie := sessionOurs(b, c.ours)
			b.ReportAllocs()
			for b.Loop() {
				sessionServe(h, cookie)
			}
		})
		b.Run(c.name+"/scs", func(b *testing.B) {
			h, cookie := sessionSCS(b, c.scs)
			b.ReportAllocs()
			for b.Loop() {
				sessionServe(h, cookie)
			}
		})
	}
}

// BenchmarkSessionUntouchedVsBare serves the bare handler and our
// middleware with a session cookie the handler never touches, alternately
// in one loop, so that noise from a shared machine falls on both alike, and
// reports the ratio of their times (target (c): at most 1.2).
func BenchmarkSessionUntouchedVsBare(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(sessionOK) })
	ours, cookie := sessionOurs(b, sessionCases[2].ours)
	var tBare, tOurs time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		sessionServe(bare, cookie)
		t1 := time.Now()
		sessionServe(ours, cookie)
		tOurs += time.Since(t1)
		tBare += t1.Sub(t0)
	}
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/req")
	b.ReportMetric(float64(tOurs.Nanoseconds())/float64(b.N), "untouched-ns/req")
	b.ReportMetric(float64(tOurs)/float64(tBare), "untouched/bare")
}

// sessionDiscard is a ResponseWriter that keeps nothing, for measuring
// the middleware alone.
type sessionDiscard struct {
	h    http.Header
	code int
}

func (d *sessionDiscard) Header() http.Header         { return d.h }
func (d *sessionDiscard) Write(p []byte) (int, error) { return len(p), nil }
func (d *sessionDiscard) WriteHeader(code int)        { d.code = code }

// BenchmarkSessionMiddlewareOnly is BenchmarkSession without the cost of
// building a request and a recorder: one request (the middleware never
// changes it, it derives a copy) and a reused discarding writer. It shows
// the middleware's own cost, which a server-like harness dilutes.
func BenchmarkSessionMiddlewareOnly(b *testing.B) {
	run := func(b *testing.B, h http.Handler, cookie string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", cookie)
		w := &sessionDiscard{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	}
	b.Run("bare", func(b *testing.B) {
		run(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(sessionOK) }), "session=x")
	})
	for _, c := range sessionCases {
		b.Run(c.name+"/kvkit", func(b *testing.B) {
			h, cookie := sessionOurs(b, c.ours)
			run(b, h, cookie)
		})
		b.Run(c.name+"/scs", func(b *testing.B) {
			h, cookie := sessionSCS(b, c.scs)
			run(b, h, cookie)
		})
	}
}

// sessionKVMix sends 1,000 requests from 50 signed-in users, 90% reads and
// 10% writes of the session, through our middleware, and returns the KV
// calls they made.
func sessionKVMix(tb testing.TB) (kvtest.Counts, int) {
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{}))
	m := session.Must(session.New[sessionUser](ns, session.Options{}))
	read := nethttp.Session(m)(sessionCases[0].ours(m))
	write := nethttp.Session(m)(sessionCases[1].ours(m))
	cookies := make([]string, 50)
	for i := range cookies {
		s := m.Open("")
		require.NoError(tb, s.Set(context.Background(), sessionUser{ID: "u", Role: "user"}))
		c, err := s.Commit(context.Background())
		require.NoError(tb, err)
		cookies[i] = "session=" + c.Value
	}
	ns.Reset()
	rng := rand.New(rand.NewPCG(7, 11))
	writes := 0
	for range 1000 {
		h := read
		if rng.IntN(10) == 0 {
			h, writes = write, writes+1
		}
		sessionServe(h, cookies[rng.IntN(len(cookies))])
	}
	return ns.Counts(), writes
}

// TestSessionKVCallsPer1000Requests asserts the KV budget of the mix.
func TestSessionKVCallsPer1000Requests(t *testing.T) {
	counts, writes := sessionKVMix(t)
	t.Logf("1,000 requests, 50 users, 90%% reads / 10%% writes: KV reads=%d writes=%d (writing requests=%d)", counts.Reads(), counts.Writes(), writes)
	assert.LessOrEqual(t, counts.Reads(), int64(1000))
	assert.Equal(t, int64(writes), counts.Writes(), "one write per changing request, none for reads")
	assert.LessOrEqual(t, counts.Writes(), int64(100+15))
}

// BenchmarkSessionKVCalls reports the same mix as metrics.
func BenchmarkSessionKVCalls(b *testing.B) {
	var counts kvtest.Counts
	for b.Loop() {
		counts, _ = sessionKVMix(b)
	}
	b.ReportMetric(float64(counts.Reads()), "kv-reads/1k-req")
	b.ReportMetric(float64(counts.Writes()), "kv-writes/1k-req")
}
