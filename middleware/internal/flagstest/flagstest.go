// Package flagstest is the table of cases that both flag middlewares
// (middleware/nethttp and middleware/echo) must pass, so the two adapters
// behave the same.
package flagstest

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/flags"
)

// Header carries the user ID in the table's requests; the middlewares under
// test take the user ID from it.
const Header = "X-User-ID"

// Defs are the flags every case runs against.
var Defs = map[string]flags.Flag{
	"beta":     {Enabled: true, RolloutPercent: 0, Allowlist: []string{"alice"}},
	"killed":   {Enabled: false, RolloutPercent: 100, Allowlist: []string{"alice"}},
	"everyone": {Enabled: true, RolloutPercent: 100, Denylist: []string{"mallory"}},
	"ab":       {Enabled: true, RolloutPercent: 100, Variants: []flags.Variant{{Name: "x", Weight: 1}}},
}

// Case is one request through the middleware under test. The route's
// handler answers 200 with Body(evaluator, Check).
type Case struct {
	Name string
	// User is sent in Header ("" sends none).
	User string
	// Gate is the flag gating the route; "" means no gate.
	Gate string
	// CustomDenied makes the gate use a deny handler that answers
	// DeniedStatus with DeniedBody instead of the default 404.
	CustomDenied bool
	// Check is the flag the handler evaluates.
	Check string
	// NoEvaluator leaves the flags middleware out: handlers and gates see
	// every flag off.
	NoEvaluator bool

	WantStatus int
	// WantBody is checked unless empty (404 bodies differ by framework).
	WantBody string
}

// What a custom deny handler answers.
const (
	DeniedStatus = http.StatusForbidden
	DeniedBody   = "denied"
)

// Body is what the table's handlers write: user ID, on/off and variant of
// flag, from the request's evaluator.
func Body(ev *flags.Evaluator, flag string) string {
	state := "off"
	if ev.IsEnabled(flag) {
		state = "on"
	}
	return ev.UserID() + ":" + state + ":" + ev.Variant(flag)
}

// Cases returns the shared table.
func Cases() []Case {
	return []Case{
		{Name: "allowlisted user", User: "alice", Check: "beta", WantStatus: 200, WantBody: "alice:on:"},
		{Name: "user outside rollout 0", User: "bob", Check: "beta", WantStatus: 200, WantBody: "bob:off:"},
		{Name: "disabled beats allowlist", User: "alice", Check: "killed", WantStatus: 200, WantBody: "alice:off:"},
		{Name: "missing flag is off", User: "alice", Check: "nope", WantStatus: 200, WantBody: "alice:off:"},
		{Name: "rollout 100 with variant", User: "carol", Check: "ab", WantStatus: 200, WantBody: "carol:on:x"},
		{Name: "denylisted user", User: "mallory", Check: "everyone", WantStatus: 200, WantBody: "mallory:off:"},
		{Name: "anonymous user", User: "", Check: "everyone", WantStatus: 200, WantBody: ":on:"},
		{Name: "gate open", User: "alice", Gate: "beta", Check: "beta", WantStatus: 200, WantBody: "alice:on:"},
		{Name: "gate closed answers 404", User: "bob", Gate: "beta", Check: "beta", WantStatus: 404},
		{Name: "gate on missing flag answers 404", User: "alice", Gate: "nope", Check: "nope", WantStatus: 404},
		{Name: "gate on disabled flag answers 404", User: "alice", Gate: "killed", Check: "killed", WantStatus: 404},
		{Name: "gate closed with custom handler", User: "bob", Gate: "beta", CustomDenied: true, Check: "beta", WantStatus: DeniedStatus, WantBody: DeniedBody},
		{Name: "no flags middleware: handler sees flags off", User: "alice", Check: "everyone", NoEvaluator: true, WantStatus: 200, WantBody: ":off:"},
		{Name: "no flags middleware: gate stays closed", User: "alice", Gate: "everyone", Check: "everyone", NoEvaluator: true, WantStatus: 404},
	}
}

// KVCalls are the KV calls a Client from NewClient makes for any number of
// rounds of Cases within the cache TTL: the first request loads every
// definition with one listing and one bulk read, and the absent flag
// "nope" costs nothing more.
var KVCalls = kvtest.Counts{List: 1, BulkGet: 1}

// NewClient returns a flags Client over a counting memory namespace holding
// Defs.
func NewClient(t testing.TB) (*flags.Client, *kvtest.CountingBulk) {
	t.Helper()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{}))
	c, err := flags.New(ns, flags.Options{})
	require.NoError(t, err)
	for name, f := range Defs {
		require.NoError(t, c.Set(context.Background(), name, f))
	}
	ns.Reset()
	return c, ns
}
