package session_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/internal/reqmark"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/session"
)

// A response cache finds the request's mark in the context, whichever of
// the two middlewares runs outside: the session sets it when the page comes
// to depend on the session the client presented, or on a change.
func TestSessionMarksPersonalResponses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := kvtest.NewClock()
	m := session.Must(session.New[user](memory.New(memory.Options{Clock: clock.Now}), session.Options{Clock: clock.Now}))
	s := m.Open("")
	require.NoError(t, s.Set(ctx, user{ID: "u1"}))
	c, err := s.Commit(ctx)
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		cookie   string
		use      func(s *session.Session[user], ctx context.Context)
		personal bool
	}{
		{"untouched, with a cookie", c.String(), func(*session.Session[user], context.Context) {}, false},
		{"read, with a cookie", c.String(), func(s *session.Session[user], ctx context.Context) { _, _, _ = s.Get(ctx) }, true},
		{"read, with a forged cookie", "session=forged", func(s *session.Session[user], ctx context.Context) { _, _, _ = s.Get(ctx) }, true},
		{"read, without a cookie", "", func(s *session.Session[user], ctx context.Context) { _, _, _ = s.Get(ctx) }, false},
		{"created", "", func(s *session.Session[user], ctx context.Context) { _ = s.Set(ctx, user{ID: "new"}) }, true},
		{"destroyed", c.String(), func(s *session.Session[user], ctx context.Context) { _ = s.Destroy(ctx) }, true},
	} {
		for _, outer := range []bool{false, true} {
			req := httptest.NewRequest("GET", "/", nil)
			if tc.cookie != "" {
				req.Header.Set("Cookie", tc.cookie)
			}
			var mark *reqmark.Mark
			if outer { // the cache runs outside the session middleware
				var mctx context.Context
				mctx, mark = reqmark.Ensure(req.Context())
				req = req.WithContext(mctx)
			}
			p := m.Start(req)
			sctx := p.Context()
			if !outer { // the cache runs inside: it finds the session's mark
				mark = reqmark.From(sctx)
				require.NotNil(t, mark)
			}
			_, inner := reqmark.Ensure(sctx)
			assert.Same(t, mark, inner, "%s: one mark per request", tc.name)
			tc.use(m.FromContext(sctx), sctx)
			assert.Equal(t, tc.personal, mark.Personal(), "%s (cache outside: %v)", tc.name, outer)
		}
	}
}
