package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/patterns/session"
)

// user is the session data of every session row.
type user struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	Count int    `json:"count"`
}

func userID(u user) string { return u.ID }

var (
	ctx    = context.Background()
	body1K = bytes.Repeat([]byte("0123456789abcdef"), 64)
	quiet  = slog.New(slog.DiscardHandler)
)

// bare is the reference handler of the HTTP rows: a static 1 KiB body.
var bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(body1K)
})

// serve answers n copies of proto through h as a server would: a fresh
// request (a clone of proto) and a fresh recorder each time.
func serve(h http.Handler, proto *http.Request) Side {
	return func(n int) {
		for range n {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, proto.Clone(proto.Context()))
			if w.Code != http.StatusOK {
				panic(fmt.Sprintf("status %d: %s", w.Code, w.Body))
			}
		}
	}
}

// check serves proto once through h and fails unless the response is 200
// with the 1 KiB body and, when cacheStatus is set, a Cache-Status that
// starts with it.
func check(h http.Handler, proto *http.Request, cacheStatus string) error {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, proto.Clone(proto.Context()))
	switch {
	case w.Code != http.StatusOK:
		return fmt.Errorf("status %d: %s", w.Code, w.Body)
	case !bytes.Equal(w.Body.Bytes(), body1K):
		return fmt.Errorf("body %q", w.Body)
	case cacheStatus != "" && !bytes.HasPrefix([]byte(w.Header().Get("Cache-Status")), []byte(cacheStatus)):
		return fmt.Errorf("Cache-Status %q, want %q...", w.Header().Get("Cache-Status"), cacheStatus)
	}
	return nil
}

// signIn creates a session for u in m and returns its cookie header value.
func signIn(m *session.Manager[user], u user) (string, error) {
	s := m.Open("")
	if err := s.Set(ctx, u); err != nil {
		return "", err
	}
	c, err := s.Commit(ctx)
	if err != nil {
		return "", err
	}
	return m.CookieName() + "=" + c.Value, nil
}

// newSessions signs in n users and returns their tokens.
func newSessions(m *session.Manager[user], n int) ([]string, error) {
	toks := make([]string, n)
	for i := range toks {
		s := m.Open("")
		if err := s.Set(ctx, user{ID: "u" + strconv.Itoa(i), Role: "user"}); err != nil {
			return nil, err
		}
		c, err := s.Commit(ctx)
		if err != nil {
			return nil, err
		}
		toks[i] = c.Value
	}
	return toks, nil
}

// discard is a namespace that keeps nothing: reads find nothing, writes
// succeed. The memory rows put it under a pattern so that only the
// pattern's own memory is counted, not a backend's copy.
type discard struct{}

var (
	_ kv.Namespace     = discard{}
	_ kv.BulkNamespace = discard{}
)

func (discard) Get(context.Context, string, kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	return kv.Entry[[]byte]{}, false, nil
}
func (discard) Put(context.Context, string, []byte, kv.PutOptions) error { return nil }
func (discard) Delete(context.Context, string) error                     { return nil }
func (discard) List(context.Context, kv.ListOptions) (kv.Page, error) {
	return kv.Page{Complete: true}, nil
}
func (discard) GetBulk(context.Context, []string, kv.GetOptions) (map[string]kv.Entry[[]byte], error) {
	return map[string]kv.Entry[[]byte]{}, nil
}
func (discard) PutBulk(context.Context, []kv.Pair) error   { return nil }
func (discard) DeleteBulk(context.Context, []string) error { return nil }

// bulkCount wraps a bulk namespace and records the calls and the largest
// bulk write.
type bulkCount struct {
	kv.Namespace
	bulk kv.BulkNamespace

	mu                         sync.Mutex
	gets, puts, lists          int
	bulkGets, bulkPuts, maxPut int
}

func newBulkCount(ns kv.Namespace) *bulkCount {
	return &bulkCount{Namespace: ns, bulk: ns.(kv.BulkNamespace)}
}

func (c *bulkCount) count(f func()) {
	c.mu.Lock()
	f()
	c.mu.Unlock()
}

func (c *bulkCount) Get(ctx context.Context, key string, o kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	c.count(func() { c.gets++ })
	return c.Namespace.Get(ctx, key, o)
}

func (c *bulkCount) Put(ctx context.Context, key string, v []byte, o kv.PutOptions) error {
	c.count(func() { c.puts++ })
	return c.Namespace.Put(ctx, key, v, o)
}

func (c *bulkCount) List(ctx context.Context, o kv.ListOptions) (kv.Page, error) {
	c.count(func() { c.lists++ })
	return c.Namespace.List(ctx, o)
}

func (c *bulkCount) GetBulk(ctx context.Context, keys []string, o kv.GetOptions) (map[string]kv.Entry[[]byte], error) {
	c.count(func() { c.bulkGets++ })
	return c.bulk.GetBulk(ctx, keys, o)
}

func (c *bulkCount) PutBulk(ctx context.Context, pairs []kv.Pair) error {
	c.count(func() { c.bulkPuts++; c.maxPut = max(c.maxPut, len(pairs)) })
	return c.bulk.PutBulk(ctx, pairs)
}

func (c *bulkCount) DeleteBulk(ctx context.Context, keys []string) error {
	return c.bulk.DeleteBulk(ctx, keys)
}

func (c *bulkCount) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("KV calls: %d get, %d put, %d list, %d bulk get, %d bulk put (largest %d)",
		c.gets, c.puts, c.lists, c.bulkGets, c.bulkPuts, c.maxPut)
}

// closeAll closes what a row opened.
func closeAll(cs ...interface{ Close(context.Context) error }) {
	for _, c := range cs {
		_ = c.Close(ctx)
	}
}
