package session_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/internal/reqmark"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/session"
)

// signedIn returns a manager over a counting namespace and the cookie of
// a live session.
func signedIn(t *testing.T) (*session.Manager[user], *kvtest.CountingBulk, string) {
	t.Helper()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{}))
	m := session.Must(session.New[user](ns, session.Options{}))
	s := m.Open("")
	require.NoError(t, s.Set(context.Background(), user{ID: "u1"}))
	c, err := s.Commit(context.Background())
	require.NoError(t, err)
	return m, ns, c.String()
}

// A session the handler never uses commits to nothing and costs no KV
// call; read after its commit it still loads (once), and the commit keeps
// its first result.
func TestUntouchedCommit(t *testing.T) {
	t.Parallel()
	m, ns, cookie := signedIn(t)
	before := ns.Counts()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", cookie)
	p := m.Start(r)
	c, err := p.Commit(context.Background())
	require.NoError(t, err)
	assert.Nil(t, c)
	assert.Equal(t, before, ns.Counts(), "no KV call")

	s := m.FromContext(p.Context())
	u, ok, err := s.Get(p.Context())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "u1", u.ID)
	assert.ErrorIs(t, s.Set(p.Context(), user{ID: "late"}), session.ErrCommitted)
	c, err = p.Commit(context.Background())
	require.NoError(t, err)
	assert.Nil(t, c, "the first result")
	assert.Equal(t, before.Get+1, ns.Counts().Get)
}

// The token is the one of the Cookie header the request had at Start: a
// handler that sets another Cookie header before reading the session does
// not change which session it reads.
func TestStartKeepsTheCookieHeader(t *testing.T) {
	t.Parallel()
	m, _, cookie := signedIn(t)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", cookie)
	p := m.Start(r)
	r.Header.Set("Cookie", "session="+session.NewToken())
	_, ok, err := m.FromContext(p.Context()).Get(p.Context())
	require.NoError(t, err)
	assert.True(t, ok)
}

// The request's mark may be asked for (by a response cache inside the
// session middleware) while the handler's goroutines read the session:
// all of them get the same mark, and it ends up personal.
func TestMarkAndStateRace(t *testing.T) {
	t.Parallel()
	m, _, cookie := signedIn(t)
	for range 20 {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", cookie)
		p := m.Start(r)
		ctx := p.Context()
		s := m.FromContext(ctx)
		marks := make([]*reqmark.Mark, 8)
		var wg sync.WaitGroup
		for i := range marks {
			wg.Go(func() {
				if i%2 == 0 {
					_, ok, err := s.Get(ctx)
					assert.NoError(t, err)
					assert.True(t, ok)
				}
				marks[i] = reqmark.From(ctx)
			})
		}
		wg.Wait()
		for _, mk := range marks {
			require.Same(t, marks[0], mk)
		}
		assert.True(t, marks[0].Personal())
		_, err := p.Commit(ctx)
		require.NoError(t, err)
	}
}
