package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/session"
)

// readHandler reads the request's session and answers with the 1 KiB body.
func readHandler(m *session.Manager[user]) http.Handler {
	return nethttp.Session(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := m.FromContext(r.Context()).Get(r.Context())
		if err != nil || !ok || u.ID == "" {
			panic(fmt.Sprint("session read: ", ok, err))
		}
		bare(w, r)
	}))
}

// readRequests serves, in turn, one request per cookie through the
// session middleware and readHandler, as serve does.
func readRequests(m *session.Manager[user], cookies []string) Side {
	h := readHandler(m)
	proto := httptest.NewRequest(http.MethodGet, "/", nil)
	i := 0
	return func(n int) {
		for range n {
			r := proto.Clone(proto.Context())
			j := i % len(cookies)
			r.Header["Cookie"] = cookies[j : j+1 : j+1]
			i++
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				panic(w.Code)
			}
		}
	}
}

func cookiesOf(m *session.Manager[user], toks []string) []string {
	cs := make([]string, len(toks))
	for i, t := range toks {
		cs[i] = m.CookieName() + "=" + t
	}
	return cs
}

// reads loads the session of each token in order, as the middleware does
// on a handler's first access: Open, then Get.
func reads(m *session.Manager[user], toks []string) Side {
	i := 0
	return func(n int) {
		for range n {
			s := m.Open(toks[i%len(toks)])
			i++
			u, ok, err := s.Get(ctx)
			if err != nil || !ok || u.ID == "" {
				panic(fmt.Sprint("session read: ", ok, err))
			}
		}
	}
}

// sessionScale returns two managers over kv/memory, one with big live
// sessions and one with small, and their tokens.
func sessionScale(c *Config) (mb, ms *session.Manager[user], tb, ts []string, err error) {
	mb = session.Must(session.New[user](memory.New(memory.Options{}), session.Options{}))
	if tb, err = newSessions(mb, c.n(100_000, 1000)); err != nil {
		return
	}
	ms = session.Must(session.New[user](memory.New(memory.Options{}), session.Options{}))
	ts, err = newSessions(ms, 10)
	return
}

func rowSessionScale(c *Config) (Line, error) {
	mb, ms, tb, ts, err := sessionScale(c)
	if err != nil {
		return Line{}, err
	}
	cmp := c.Compare("session-100k", Pair{
		Ours: readRequests(mb, inOrder(cookiesOf(mb, tb), orderLen, 3)),
		Ref:  readRequests(ms, inOrder(cookiesOf(ms, ts), orderLen, 4)),
	})
	l := ratioLine(cmp, 1.2, nil)
	l.Notes = fmt.Sprintf("%s; a request through the session middleware to a handler that reads the session, random live sessions, %d vs %d in kv/memory, no read cache",
		l.Notes, len(tb), len(ts))
	return l, nil
}

func rowSessionScaleRead(c *Config) (Line, error) {
	mb, ms, tb, ts, err := sessionScale(c)
	if err != nil {
		return Line{}, err
	}
	cmp := c.Compare("session-100k-read", Pair{
		Ours: reads(mb, inOrder(tb, orderLen, 3)),
		Ref:  reads(ms, inOrder(ts, orderLen, 4)),
	})
	l := ratioLine(cmp, 1.2, nil)
	l.Notes = fmt.Sprintf("%s; the read alone (Open+Get, no HTTP), %d vs %d sessions", l.Notes, len(tb), len(ts))
	return l, nil
}

func rowSessionMem(c *Config) (Line, error) {
	n := c.n(100_000, 1000)
	per, err := HeapPerEntry(n, func(n int) (any, error) {
		ns := memory.New(memory.Options{})
		m := session.Must(session.New[user](ns, session.Options{}))
		_, err := newSessions(m, n)
		return ns, err
	})
	if err != nil {
		return Line{}, err
	}
	return Line{
		Ours: fmtBytes(per) + "/session", Ref: "-", Ratio: "-",
		Notes: fmt.Sprintf("live heap of kv/memory per live session (record of {id, role, count}), %d sessions", n),
	}, nil
}
