package main

import (
	"fmt"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/session"
)

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

func rowSessionScale(c *Config) (Line, error) {
	big, small := c.n(100_000, 1000), 10
	mb := session.Must(session.New[user](memory.New(memory.Options{}), session.Options{}))
	tb, err := newSessions(mb, big)
	if err != nil {
		return Line{}, err
	}
	ms := session.Must(session.New[user](memory.New(memory.Options{}), session.Options{}))
	ts, err := newSessions(ms, small)
	if err != nil {
		return Line{}, err
	}
	cmp := c.Compare("session-100k", Pair{
		Ours: reads(mb, inOrder(tb, orderLen, 3)),
		Ref:  reads(ms, inOrder(ts, orderLen, 4)),
	})
	l := ratioLine(cmp, 1.2, nil)
	l.Notes = fmt.Sprintf("%s; Open+Get of a random live session, %d vs %d sessions in kv/memory, no read cache", l.Notes, big, small)
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
