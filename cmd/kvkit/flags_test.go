package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/patterns/flags"
)

// flagsStored reads a key straight from the server's memory backend, past
// the command and the REST API.
func flagsStored(t *testing.T, srv *kvtest.Server, key string) (string, bool) {
	t.Helper()
	ns, ok := srv.Namespace(srv.NamespaceID)
	require.True(t, ok)
	it, found, err := ns.Get(context.Background(), key, kv.GetOptions{})
	require.NoError(t, err)
	return string(it.Value), found
}

// flagsOK runs a command that must succeed and returns its stdout.
func flagsOK(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	code, out, stderr := runIn(t, env, "", args...)
	require.Equal(t, 0, code, "kvkit %v: %s", args, stderr)
	assert.Empty(t, stderr)
	return out
}

func TestFlagsSetGetMerge(t *testing.T) {
	t.Parallel()
	srv := kvtest.NewServer(t, kvtest.ServerOptions{})
	env := srv.Env()

	out := flagsOK(t, env, "flags", "set", "new-ui", "--enabled", "--rollout", "25", "--allow", "12345, u2,,12345")
	want := `{"enabled":true,"rolloutPercent":25,"allowlist":["12345","u2"]}`
	assert.Equal(t, want+"\n", out, "set prints what it stored")
	stored, found := flagsStored(t, srv, "flag:new-ui")
	require.True(t, found)
	assert.JSONEq(t, want, stored)
	assert.Equal(t, want+"\n", flagsOK(t, env, "flags", "get", "new-ui"))

	// Merging: each option replaces its field, the others stay.
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"--rollout", "75"}, `{"enabled":true,"rolloutPercent":75,"allowlist":["12345","u2"]}`},
		{[]string{"--enabled=false"}, `{"enabled":false,"rolloutPercent":75,"allowlist":["12345","u2"]}`},
		{[]string{"--deny", "bad", "--enabled"}, `{"enabled":true,"rolloutPercent":75,"allowlist":["12345","u2"],"denylist":["bad"]}`},
		{[]string{"--allow", ""}, `{"enabled":true,"rolloutPercent":75,"allowlist":[],"denylist":["bad"]}`},
		{[]string{"--variants", "a:1,b:3"}, `{"enabled":true,"rolloutPercent":75,"allowlist":[],"denylist":["bad"],"variants":[{"name":"a","weight":1},{"name":"b","weight":3}]}`},
		{[]string{}, `{"enabled":true,"rolloutPercent":75,"allowlist":[],"denylist":["bad"],"variants":[{"name":"a","weight":1},{"name":"b","weight":3}]}`},
		{[]string{"--variants", "", "--deny", ""}, `{"enabled":true,"rolloutPercent":75,"allowlist":[]}`},
		{[]string{"--replace", "--rollout", "0.5"}, `{"enabled":false,"rolloutPercent":0.5,"allowlist":[]}`},
	} {
		args := append([]string{"flags", "set", "new-ui"}, step.args...)
		out := flagsOK(t, env, args...)
		assert.JSONEq(t, step.want, out, "set %v", step.args)
		stored, _ := flagsStored(t, srv, "flag:new-ui")
		assert.JSONEq(t, step.want, stored, "set %v", step.args)
	}

	// Flags may come before the name too, and another prefix is another set.
	flagsOK(t, env, "flags", "set", "--prefix", "ff/", "--rollout", "10", "other")
	stored, found = flagsStored(t, srv, "ff/other")
	require.True(t, found)
	assert.JSONEq(t, `{"enabled":false,"rolloutPercent":10,"allowlist":[]}`, stored)
	_, found = flagsStored(t, srv, "flag:other")
	assert.False(t, found)

	// A name exactly at the key limit is fine.
	long := strings.Repeat("x", kv.MaxKeySize-len("flag:"))
	flagsOK(t, env, "flags", "set", long, "--enabled")
	_, found = flagsStored(t, srv, "flag:"+long)
	assert.True(t, found)
}

func TestFlagsListEvalDelete(t *testing.T) {
	t.Parallel()
	srv := kvtest.NewServer(t, kvtest.ServerOptions{})
	env := srv.Env()

	flagsOK(t, env, "flags", "set", "new-ui", "--enabled", "--rollout", "25", "--allow", "12345,ana", "--deny", "eve")
	flagsOK(t, env, "flags", "set", "beta", "--rollout", "100")
	flagsOK(t, env, "flags", "set", "ab", "--enabled", "--rollout", "50", "--variants", "red:1,blue:1")

	out := flagsOK(t, env, "flags", "list")
	assert.Equal(t, strings.Join([]string{
		"NAME    ENABLED  ROLLOUT  ALLOWLIST",
		"ab      true     50%      -",
		"beta    false    100%     -",
		"new-ui  true     25%      12345,ana",
		"",
	}, "\n"), out)

	var all map[string]flags.Flag
	require.NoError(t, json.Unmarshal([]byte(flagsOK(t, env, "flags", "list", "--json")), &all))
	assert.Equal(t, map[string]flags.Flag{
		"ab":     {Enabled: true, RolloutPercent: 50, Allowlist: []string{}, Variants: []flags.Variant{{Name: "red", Weight: 1}, {Name: "blue", Weight: 1}}},
		"beta":   {RolloutPercent: 100, Allowlist: []string{}},
		"new-ui": {Enabled: true, RolloutPercent: 25, Allowlist: []string{"12345", "ana"}, Denylist: []string{"eve"}},
	}, all)

	// Two users on either side of the 25% line, found with the package's
	// own Bucket (vectors_test checks it against the TypeScript recipe).
	var in, out25 string
	for i := 0; in == "" || out25 == ""; i++ {
		u := fmt.Sprintf("user-%d", i)
		if b := flags.Bucket("new-ui", u); b < 25 && in == "" {
			in = u
		} else if b >= 25 && out25 == "" {
			out25 = u
		}
	}

	t.Run("eval", func(t *testing.T) { // parallel cases end before delete
		flagsEvalCases(t, env, in, out25)
	})

	// The worked example from the package docs, digits and all.
	text := flagsOK(t, env, "flags", "eval", "new-ui", "12345")
	assert.Contains(t, text, "bucket:   6.73387975")
	// A variant is shown with the decision.
	ab := all["ab"]
	seen := map[string]bool{}
	for i := 0; len(seen) < 2; i++ {
		u := fmt.Sprintf("user-%d", i)
		if d := ab.Evaluate("ab", u); d.Enabled && !seen[d.Variant] {
			seen[d.Variant] = true
			assert.Contains(t, flagsOK(t, env, "flags", "eval", "ab", u), "decision: on, variant "+d.Variant+"\n")
		}
	}
	assert.Equal(t, map[string]bool{"red": true, "blue": true}, seen)

	// "--" ends the flags: a user ID may start with a dash.
	text = flagsOK(t, env, "flags", "eval", "new-ui", "--", "-5")
	assert.Contains(t, text, "user:     -5\n")
	assert.Contains(t, text, "bucket:   "+formatNum(flags.Bucket("new-ui", "-5"))+"\n")

	flagsOK(t, env, "flags", "delete", "new-ui")
	_, found := flagsStored(t, srv, "flag:new-ui")
	assert.False(t, found)
	flagsOK(t, env, "flags", "delete", "new-ui") // a missing flag is not an error
	code, _, stderr := runIn(t, env, "", "flags", "get", "new-ui")
	assert.Equal(t, 1, code)
	assert.Equal(t, "kvkit flags get: flag \"new-ui\" not found (key \"flag:new-ui\")\n", stderr)
	assert.NotContains(t, flagsOK(t, env, "flags", "list"), "new-ui")
}

// Bad input is one line on stderr, exit 2, and not a single request.
func TestFlagsValidationMakesNoRequest(t *testing.T) {
	t.Parallel()
	srv := kvtest.NewServer(t, kvtest.ServerOptions{})
	env := srv.Env()
	tooLong := strings.Repeat("x", kv.MaxKeySize-len("flag:")+1)

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"rollout 101", []string{"set", "new-ui", "--rollout", "101"}, "--rollout: rolloutPercent 101 is not in 0..100"},
		{"rollout -1", []string{"set", "new-ui", "--rollout=-1"}, "rolloutPercent -1 is not in 0..100"},
		{"rollout NaN", []string{"set", "new-ui", "--rollout", "NaN"}, "rolloutPercent NaN is not in 0..100"},
		{"rollout Inf", []string{"set", "new-ui", "--rollout", "+Inf"}, "rolloutPercent +Inf is not in 0..100"},
		{"rollout word", []string{"set", "new-ui", "--rollout", "half"}, `invalid value "half" for flag -rollout`},
		{"empty name", []string{"set", "", "--enabled"}, "the flag name is empty"},
		{"name too long", []string{"set", tooLong, "--enabled"}, "key is 513 bytes, limit is 512"},
		{"too long with prefix", []string{"set", "--prefix", strings.Repeat("p", 500), strings.Repeat("n", 13)}, "key is 513 bytes"},
		{"enabled false spaced", []string{"set", "new-ui", "--enabled", "false"}, `write --enabled=false`},
		{"no name", []string{"set", "--enabled"}, "want one NAME"},
		{"variants syntax", []string{"set", "ab", "--variants", "red"}, `"red" is not NAME:WEIGHT`},
		{"variants weight", []string{"set", "ab", "--variants", "red:-1"}, `variant "red" has weight -1`},
		{"variants twice", []string{"set", "ab", "--variants", "red:1,red:2"}, `variant "red" appears twice`},
		{"unknown flag", []string{"set", "ab", "--rolout", "5"}, "flag provided but not defined: -rolout"},
		{"get empty", []string{"get", ""}, "the flag name is empty"},
		{"get too long", []string{"get", tooLong}, "limit is 512"},
		{"delete too long", []string{"delete", tooLong}, "limit is 512"},
		{"delete none", []string{"delete"}, "want one NAME"},
		{"eval no user", []string{"eval", "new-ui"}, "want NAME and USER"},
		{"eval empty", []string{"eval", "", "u"}, "the flag name is empty"},
		{"list arg", []string{"list", "x"}, `unexpected argument "x"`},
		{"list prefix", []string{"list", "--prefix", strings.Repeat("p", 512)}, "--prefix is 512 bytes"},
		{"unknown command", []string{"frob"}, `unknown command "frob" (run kvkit flags help)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runIn(t, env, "", append([]string{"flags"}, c.args...)...)
			assert.Equal(t, 2, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, c.want)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			assert.True(t, strings.HasPrefix(stderr, "kvkit flags"), stderr)
		})
	}
	assert.Zero(t, srv.Hits(kvserver.RouteAny), "no request reached the server")
}

func TestFlagsHelpAndEnvironment(t *testing.T) {
	t.Parallel()
	code, _, stderr := runIn(t, nil, "", "flags")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "kvkit flags set NAME")

	code, _, stderr = runIn(t, nil, "", "flags", "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "set merges")

	code, _, stderr = runIn(t, nil, "", "flags", "set", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "usage: kvkit flags set NAME")
	assert.Contains(t, stderr, "-rollout float")
	assert.Contains(t, stderr, "--replace")

	code, _, stderr = runIn(t, nil, "", "help")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "kvkit flags list|get|set|delete|eval")

	// Valid input with an incomplete environment: exit 1, named variable.
	// (With none of the variables set, kvkit serve's defaults are used:
	// TestLocalDefaults.)
	code, _, stderr = runIn(t, map[string]string{"KVKIT_NAMESPACE_ID": kvserver.DefaultNamespaceID}, "", "flags", "list")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "CLOUDFLARE_API_TOKEN is not set")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
}

// A failed read leaves the stored flag as it was: set writes nothing.
func TestFlagsSetReadFailureWritesNothing(t *testing.T) {
	t.Parallel()
	srv := kvtest.NewServer(t, kvtest.ServerOptions{})
	env := srv.Env()
	flagsOK(t, env, "flags", "set", "new-ui", "--enabled", "--rollout", "25")
	srv.ResetHits()

	srv.Inject(kvserver.RouteGetValue, kvserver.Fault{Status: 403, Message: "forbidden by test"})
	code, stdout, stderr := runIn(t, env, "", "flags", "set", "new-ui", "--rollout", "75")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "kvkit flags set: ")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	assert.Zero(t, srv.Hits(kvserver.RoutePutValue))
	stored, _ := flagsStored(t, srv, "flag:new-ui")
	assert.JSONEq(t, `{"enabled":true,"rolloutPercent":25,"allowlist":[]}`, stored)

	// A stored definition the options leave invalid is refused, not kept
	// half-changed.
	ns, _ := srv.Namespace(srv.NamespaceID)
	require.NoError(t, ns.Put(context.Background(), "flag:hand", []byte(`{"enabled":true,"rolloutPercent":150}`), kv.PutOptions{}))
	srv.ResetHits()
	code, _, stderr = runIn(t, env, "", "flags", "set", "hand", "--allow", "a")
	assert.Equal(t, 1, code)
	assert.Equal(t, "kvkit flags set: flag \"hand\": rolloutPercent 150 is not in 0..100\n", stderr)
	assert.Zero(t, srv.Hits(kvserver.RoutePutValue))
	flagsOK(t, env, "flags", "set", "hand", "--rollout", "15") // fixing the field works
}

func flagsEvalCases(t *testing.T, env map[string]string, in, out25 string) {
	for _, c := range []struct {
		flag, user string
		enabled    bool
		reason     string
		why        string
	}{
		{"new-ui", "12345", true, "allowed", "allowlist"},
		{"new-ui", "eve", false, "denied", "denylist"},
		{"new-ui", in, true, "rollout", "bucket " + formatNum(flags.Bucket("new-ui", in)) + " < rolloutPercent 25"},
		{"new-ui", out25, false, "rollout", "bucket " + formatNum(flags.Bucket("new-ui", out25)) + " >= rolloutPercent 25"},
		{"beta", "12345", false, "disabled", "enabled is false"},
		{"missing", "12345", false, "not-found", `no flag stored under "flag:missing"`},
	} {
		t.Run(c.flag+"/"+c.user, func(t *testing.T) {
			t.Parallel()
			var got struct {
				Flag, User string
				Bucket     float64
				Decision   struct {
					Enabled bool
					Variant string
					Reason  string
				}
				Why string
			}
			raw := flagsOK(t, env, "flags", "eval", "--json", c.flag, c.user)
			require.NoError(t, json.Unmarshal([]byte(raw), &got))
			assert.Equal(t, c.flag, got.Flag)
			assert.Equal(t, c.user, got.User)
			assert.Equal(t, flags.Bucket(c.flag, c.user), got.Bucket, "bit for bit")
			assert.Equal(t, c.enabled, got.Decision.Enabled)
			assert.Equal(t, c.reason, got.Decision.Reason)
			assert.Contains(t, got.Why, c.why)
			assert.NotContains(t, raw, `\u003`, "readable JSON")

			text := flagsOK(t, env, "flags", "eval", c.flag, c.user)
			assert.Contains(t, text, "bucket:   "+formatNum(got.Bucket)+"\n")
			state := map[bool]string{true: "on", false: "off"}[c.enabled]
			assert.Contains(t, text, "decision: "+state+"\n")
			assert.Contains(t, text, "reason:   "+c.reason+": ")
		})
	}
}
