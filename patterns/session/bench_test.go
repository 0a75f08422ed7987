package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/session"
)

type benchUser struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	Count int    `json:"count"`
}

func benchSession(b *testing.B) (*session.Manager[benchUser], string) {
	m := session.Must(session.New[benchUser](memory.New(memory.Options{}), session.Options{}))
	s := m.Open("")
	if err := s.Set(context.Background(), benchUser{ID: "u1", Role: "admin"}); err != nil {
		b.Fatal(err)
	}
	c, err := s.Commit(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return m, c.Value
}

// BenchmarkLoad is the per-request cost of a session read without HTTP.
func BenchmarkLoad(b *testing.B) {
	m, tok := benchSession(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := m.Open(tok).Get(ctx); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkModify is the per-request cost of a session change without HTTP.
func BenchmarkModify(b *testing.B) {
	m, tok := benchSession(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s := m.Open(tok)
		if err := s.Update(ctx, func(u *benchUser) error { u.Count++; return nil }); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidToken(b *testing.B) {
	tok := session.NewToken()
	for b.Loop() {
		if !session.ValidToken(tok) {
			b.Fatal()
		}
	}
}

// benchLoadCached loads v's session through a warm read cache.
func benchLoadCached[T any](b *testing.B, v T) {
	m := session.Must(session.New[T](memory.New(memory.Options{}), session.Options{CacheTTL: time.Minute}))
	ctx := context.Background()
	s := m.Open("")
	if err := s.Set(ctx, v); err != nil {
		b.Fatal(err)
	}
	c, err := s.Commit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := m.Open(c.Value).Get(ctx); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkLoadCached is BenchmarkLoad with the read cache on: T holds no
// references, so a hit copies the cached decoded record (no KV call, no
// decoding).
func BenchmarkLoadCached(b *testing.B) {
	benchLoadCached(b, benchUser{ID: "u1", Role: "admin"})
}

// benchTagged is benchUser with a slice, so the cache keeps JSON.
type benchTagged struct {
	ID    string   `json:"id"`
	Roles []string `json:"roles"`
	Count int      `json:"count"`
}

// BenchmarkLoadCachedBytes is a cache hit for a T holding a slice: the
// cache keeps the JSON and the hit decodes it (no KV call).
func BenchmarkLoadCachedBytes(b *testing.B) {
	benchLoadCached(b, benchTagged{ID: "u1", Roles: []string{"admin"}})
}
