// Package reqmark carries facts about one request between kvkit layers that
// do not import each other: the session store marks a request whose
// response depends on who sent it, and the response cache, wherever it sits
// in the middleware stack, never stores such a response for others. Rate
// limiters mark the response headers that belong to one client. The flags
// middleware binds the request's flag evaluator to it, so that it needs no
// context (and request copy) of its own.
//
// One *Mark serves a whole request: the first layer that wants one puts it
// in the request's context (With), and every later layer finds it there
// (From) and shares it. The zero Mark is ready to use, and a nil *Mark
// ignores every call, so callers need no checks.
package reqmark

import (
	"context"
	"slices"
	"sync/atomic"
)

// Mark is the per-request record. It is safe for concurrent use. It is
// small on purpose: a session embeds one in what it allocates per
// request.
type Mark struct {
	personal atomic.Bool
	headers  atomic.Pointer[[]string] // canonical names of per-client response headers, never changed in place
	flags    atomic.Value             // the request's *flags.Evaluator, set once (BindFlags)
}

type keyType struct{}

// Key is the context key under which a *Mark is stored. Layers that answer
// Value themselves (the session's context) compare against it.
var Key any = keyType{}

// From returns the request's mark, or nil when no layer has put one in ctx.
func From(ctx context.Context) *Mark {
	m, _ := ctx.Value(Key).(*Mark)
	return m
}

// With returns ctx carrying m.
func With(ctx context.Context, m *Mark) context.Context {
	return context.WithValue(ctx, Key, m)
}

// Ensure returns ctx's mark, adding a new one to ctx when there is none.
func Ensure(ctx context.Context) (context.Context, *Mark) {
	if m := From(ctx); m != nil {
		return ctx, m
	}
	m := &Mark{}
	return With(ctx, m), m
}

// SetPersonal records that the response depends on who sent the request
// (it was rendered from their session): it must not be stored for others.
func (m *Mark) SetPersonal() {
	if m != nil && !m.personal.Load() {
		m.personal.Store(true)
	}
}

// Personal reports whether SetPersonal was called.
func (m *Mark) Personal() bool { return m != nil && m.personal.Load() }

// PerClient records response headers (canonical names) that describe this
// client only, such as its remaining rate-limit quota: a cache stores the
// response without them. The first call keeps names itself instead of a
// copy (a rate limit passes the same slice, made once, on every request),
// so the caller must not change it afterwards.
func (m *Mark) PerClient(names ...string) {
	if m == nil || len(names) == 0 {
		return
	}
	m.PerClientList(&names)
}

// PerClientList is PerClient for a list the caller made once and never
// changes (a rate limit's header names): the first call keeps the pointer,
// so marking costs no allocation.
func (m *Mark) PerClientList(names *[]string) {
	if m == nil || names == nil || len(*names) == 0 {
		return
	}
	if m.headers.CompareAndSwap(nil, names) {
		return
	}
	for {
		old := m.headers.Load()
		merged := slices.Clip(*old) // an append copies: neither caller's array changes
		for _, n := range *names {
			if !contains(merged, n) {
				merged = append(merged, n)
			}
		}
		if len(merged) == len(*old) || m.headers.CompareAndSwap(old, &merged) {
			return
		}
	}
}

// IsPerClient reports whether name (canonical) was given to PerClient.
func (m *Mark) IsPerClient(name string) bool {
	if m == nil {
		return false
	}
	p := m.headers.Load()
	return p != nil && contains(*p, name)
}

// BindFlags binds the flags middleware's evaluator ev (a non-nil
// *flags.Evaluator) to the request and reports whether it did: only the
// first call binds, so a second Flags middleware further in, or one run
// again for a background refresh that shares the mark, keeps its evaluator
// in its own context instead. A nil mark binds nothing.
func (m *Mark) BindFlags(ev any) bool {
	return m != nil && m.flags.CompareAndSwap(nil, ev)
}

// Flags returns the value BindFlags bound, or nil.
func (m *Mark) Flags() any {
	if m == nil {
		return nil
	}
	return m.flags.Load()
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
