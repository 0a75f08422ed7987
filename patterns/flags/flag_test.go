package flags_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/patterns/flags"
)

// flagsUserAt finds a user ID whose bucket for flag is below (in) or at or
// above (!in) percent, so order tests do not depend on luck.
func flagsUserAt(t *testing.T, flag string, percent float64, in bool) string {
	t.Helper()
	for i := range 10000 {
		u := "user-" + strconv.Itoa(i)
		if (flags.Bucket(flag, u) < percent) == in {
			return u
		}
	}
	t.Fatalf("no user found with bucket < %v == %v", percent, in)
	return ""
}

func TestEvaluationOrder(t *testing.T) {
	t.Parallel()
	const name = "new-ui"
	in := flagsUserAt(t, name, 50, true)   // inside a 50% rollout
	out := flagsUserAt(t, name, 50, false) // outside it
	tests := []struct {
		name   string
		flag   flags.Flag
		user   string
		want   bool
		reason flags.Reason
	}{
		{"disabled beats allowlist", flags.Flag{Enabled: false, RolloutPercent: 100, Allowlist: []string{in}}, in, false, flags.ReasonDisabled},
		{"disabled beats rollout 100", flags.Flag{Enabled: false, RolloutPercent: 100}, in, false, flags.ReasonDisabled},
		{"allowlist beats rollout 0", flags.Flag{Enabled: true, RolloutPercent: 0, Allowlist: []string{out}}, out, true, flags.ReasonAllowed},
		{"denylist beats allowlist", flags.Flag{Enabled: true, RolloutPercent: 100, Allowlist: []string{in}, Denylist: []string{in}}, in, false, flags.ReasonDenied},
		{"denylist beats rollout", flags.Flag{Enabled: true, RolloutPercent: 100, Denylist: []string{in}}, in, false, flags.ReasonDenied},
		{"rollout in", flags.Flag{Enabled: true, RolloutPercent: 50}, in, true, flags.ReasonRollout},
		{"rollout out", flags.Flag{Enabled: true, RolloutPercent: 50}, out, false, flags.ReasonRollout},
		{"other user's allowlist entry does not count", flags.Flag{Enabled: true, RolloutPercent: 50, Allowlist: []string{in}}, out, false, flags.ReasonRollout},
		{"zero value is off", flags.Flag{}, in, false, flags.ReasonDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := tt.flag.Evaluate(name, tt.user)
			assert.Equal(t, tt.want, d.Enabled)
			assert.Equal(t, tt.reason, d.Reason)
		})
	}
}

func TestRolloutEdges(t *testing.T) {
	t.Parallel()
	for i := range 100000 {
		u := strconv.Itoa(i)
		b := flags.Bucket("edge", u)
		require.True(t, b >= 0 && b <= 100, "bucket %v out of [0, 100]", b)
		require.False(t, flags.Flag{Enabled: true, RolloutPercent: 0}.Evaluate("edge", u).Enabled, "rollout 0 must be off for %q", u)
		require.True(t, flags.Flag{Enabled: true, RolloutPercent: 100}.Evaluate("edge", u).Enabled, "rollout 100 must be on for %q", u)
	}
}

func TestBucketArithmetic(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 300) // past the stack buffer, multi-byte UTF-8
	for _, in := range [][2]string{{"a", "b"}, {"", ""}, {"flag", long}, {long, "u"}, {"emoji-🚀", "ユーザー"}} {
		sum := sha256.Sum256([]byte(in[0] + ":" + in[1]))
		want := float64(binary.BigEndian.Uint32(sum[:4])) / 4294967295 * 100
		assert.Equal(t, math.Float64bits(want), math.Float64bits(flags.Bucket(in[0], in[1])), "%q", in)
	}
}

func TestDecisionStableWhileDefinitionUnchanged(t *testing.T) {
	t.Parallel()
	f := flags.Flag{Enabled: true, RolloutPercent: 37.5, Variants: []flags.Variant{{"a", 1}, {"b", 1}}}
	for i := range 2000 {
		u := "u" + strconv.Itoa(i)
		first := f.Evaluate("stable", u)
		for range 5 {
			assert.Equal(t, first, f.Evaluate("stable", u))
		}
	}
}

func TestRolloutShareOf100kUsers(t *testing.T) {
	t.Parallel()
	for _, p := range []float64{0.5, 1, 10, 25, 33.3, 50, 75, 99.9} {
		t.Run(strconv.FormatFloat(p, 'f', -1, 64), func(t *testing.T) {
			t.Parallel()
			f := flags.Flag{Enabled: true, RolloutPercent: p}
			on := 0
			for i := range 100000 {
				if f.Evaluate("share", "user-"+strconv.Itoa(i)).Enabled {
					on++
				}
			}
			got := float64(on) / 1000 // percent of 100,000
			assert.InDelta(t, p, got, 1, "at rollout %v%%, %v%% of users were on", p, got)
		})
	}
}

func TestVariantsSplitByWeight(t *testing.T) {
	t.Parallel()
	f := flags.Flag{Enabled: true, RolloutPercent: 50, Variants: []flags.Variant{{"a", 1}, {"never", 0}, {"b", 3}}}
	counts := map[string]int{}
	on := 0
	for i := range 100000 {
		d := f.Evaluate("ab", "user-"+strconv.Itoa(i))
		if d.Enabled {
			on++
			require.NotEmpty(t, d.Variant)
		} else {
			require.Empty(t, d.Variant)
		}
		counts[d.Variant]++
	}
	assert.Zero(t, counts["never"])
	assert.InDelta(t, 0.25, float64(counts["a"])/float64(on), 0.01)
	assert.InDelta(t, 0.75, float64(counts["b"])/float64(on), 0.01)

	allowed := flagsUserAt(t, "ab", 50, false)
	f.Allowlist = []string{allowed}
	d := f.Evaluate("ab", allowed)
	assert.True(t, d.Enabled)
	assert.Equal(t, flags.ReasonAllowed, d.Reason)
	assert.Contains(t, []string{"a", "b"}, d.Variant)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		flag flags.Flag
		ok   bool
	}{
		{"zero", flags.Flag{}, true},
		{"100", flags.Flag{RolloutPercent: 100}, true},
		{"fraction", flags.Flag{RolloutPercent: 0.25}, true},
		{"negative", flags.Flag{RolloutPercent: -0.1}, false},
		{"over 100", flags.Flag{RolloutPercent: 100.01}, false},
		{"NaN", flags.Flag{RolloutPercent: math.NaN()}, false},
		{"Inf", flags.Flag{RolloutPercent: math.Inf(1)}, false},
		{"variants", flags.Flag{Variants: []flags.Variant{{"a", 1}, {"b", 0}}}, true},
		{"variant without name", flags.Flag{Variants: []flags.Variant{{"", 1}}}, false},
		{"duplicate variant", flags.Flag{Variants: []flags.Variant{{"a", 1}, {"a", 1}}}, false},
		{"negative weight", flags.Flag{Variants: []flags.Variant{{"a", -1}, {"b", 2}}}, false},
		{"NaN weight", flags.Flag{Variants: []flags.Variant{{"a", math.NaN()}}}, false},
		{"zero total", flags.Flag{Variants: []flags.Variant{{"a", 0}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.flag.Validate()
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, flags.ErrInvalidFlag)
			}
		})
	}
}

func TestFlagJSONShape(t *testing.T) {
	t.Parallel()
	// Written by the TypeScript recipe, with a field we do not know.
	var f flags.Flag
	require.NoError(t, json.Unmarshal([]byte(`{"enabled":true,"rolloutPercent":12.5,"allowlist":["a"],"owner":"team-x"}`), &f))
	assert.Equal(t, flags.Flag{Enabled: true, RolloutPercent: 12.5, Allowlist: []string{"a"}}, f)
	// Missing fields take their zero value.
	f = flags.Flag{}
	require.NoError(t, json.Unmarshal([]byte(`{"enabled":true}`), &f))
	assert.Equal(t, flags.Flag{Enabled: true}, f)
	// The recipe's fields always appear; extensions only when set.
	b, err := json.Marshal(flags.Flag{Enabled: true, RolloutPercent: 5, Allowlist: []string{}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"enabled":true,"rolloutPercent":5,"allowlist":[]}`, string(b))
}

func TestDecisionJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(flags.Decision{Enabled: true, Variant: "b", Reason: flags.ReasonRollout})
	require.NoError(t, err)
	assert.JSONEq(t, `{"enabled":true,"variant":"b","reason":"rollout"}`, string(b))
}
