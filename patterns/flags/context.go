package flags

import (
	"context"

	"github.com/kvkit/kvkit/internal/reqmark"
)

// Evaluator evaluates flags for one user within one request: what the
// middleware binds so handlers write ev.IsEnabled("new-ui"). A nil
// *Evaluator is valid and reports every flag off, so handlers work (with
// flags off) when the middleware is missing.
type Evaluator struct {
	c      *Client
	ctx    context.Context
	userID string
}

// For returns an Evaluator for userID whose loads run under ctx (usually
// the request's context).
func (c *Client) For(ctx context.Context, userID string) *Evaluator {
	return &Evaluator{c: c, ctx: ctx, userID: userID}
}

// UserID returns the user the Evaluator decides for.
func (e *Evaluator) UserID() string {
	if e == nil {
		return ""
	}
	return e.userID
}

// IsEnabled reports whether flag name is on for the user (see
// [Client.IsEnabled]).
func (e *Evaluator) IsEnabled(name string) bool {
	if e == nil {
		return false
	}
	return e.c.IsEnabled(e.ctx, name, e.userID)
}

// Variant returns the user's variant of flag name, or "" (see
// [Client.Variant]).
func (e *Evaluator) Variant(name string) string {
	if e == nil {
		return ""
	}
	return e.c.Variant(e.ctx, name, e.userID)
}

// Evaluate decides flag name for the user (see [Client.Evaluate]).
func (e *Evaluator) Evaluate(name string) (Decision, error) {
	if e == nil {
		return Decision{Reason: ReasonNotFound}, nil
	}
	return e.c.Evaluate(e.ctx, name, e.userID)
}

// EvaluateAll decides every flag for the user (see [Client.EvaluateAll]).
func (e *Evaluator) EvaluateAll() (map[string]Decision, error) {
	if e == nil {
		return map[string]Decision{}, nil
	}
	return e.c.EvaluateAll(e.ctx, e.userID)
}

type contextKey struct{}

// NewContext returns a copy of ctx carrying e.
func NewContext(ctx context.Context, e *Evaluator) context.Context {
	return context.WithValue(ctx, contextKey{}, e)
}

// Bind returns a context in which FromContext finds e, for a middleware
// that gives each request its evaluator. When the request already has the
// per-request record kvkit's session and cache layers share, holding no
// evaluator yet, and ctx carries none either, e is bound to that record and
// ctx itself comes back: the caller needs no request copy
// (r.WithContext). Otherwise it is NewContext(ctx, e), so an evaluator
// further in always wins over one further out.
func Bind(ctx context.Context, e *Evaluator) context.Context {
	if ctx.Value(contextKey{}) == nil && reqmark.From(ctx).BindFlags(e) {
		return ctx
	}
	return NewContext(ctx, e)
}

// FromContext returns the Evaluator the middleware put in ctx, or nil (which
// reports every flag off). An Evaluator put in ctx with NewContext wins over
// the one the middleware bound to the request: the middleware keeps its
// evaluator in the per-request record that kvkit's session and cache layers
// share, when the request has one, and in the context otherwise.
func FromContext(ctx context.Context) *Evaluator {
	if e, ok := ctx.Value(contextKey{}).(*Evaluator); ok {
		return e
	}
	e, _ := reqmark.From(ctx).Flags().(*Evaluator)
	return e
}
