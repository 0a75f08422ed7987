package kvopenfeature_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/flags"
	kvopenfeature "github.com/kvkit/kvkit/patterns/flags/openfeature"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// userAt finds a user whose bucket for flag is below (in) or not below
// percent.
func userAt(t *testing.T, flag string, percent float64, in bool) string {
	t.Helper()
	for i := range 10000 {
		u := "u" + strconv.Itoa(i)
		if (flags.Bucket(flag, u) < percent) == in {
			return u
		}
	}
	t.Fatal("no user found")
	return ""
}

func newProvider(t *testing.T) (*kvopenfeature.Provider, *kvtest.CountingBulk) {
	t.Helper()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{}))
	c, err := flags.New(ns, flags.Options{})
	require.NoError(t, err)
	ctx := context.Background()
	for name, f := range map[string]flags.Flag{
		"half":     {Enabled: true, RolloutPercent: 50, Allowlist: []string{"vip"}, Denylist: []string{"banned"}},
		"all":      {Enabled: true, RolloutPercent: 100},
		"none":     {Enabled: true, RolloutPercent: 0},
		"disabled": {Enabled: false, RolloutPercent: 100},
		"ab":       {Enabled: true, RolloutPercent: 50, Allowlist: []string{"vip"}, Denylist: []string{"banned"}, Variants: []flags.Variant{{Name: "red", Weight: 1}, {Name: "blue", Weight: 1}}},
	} {
		require.NoError(t, c.Set(ctx, name, f))
	}
	p, err := kvopenfeature.New(c)
	require.NoError(t, err)
	return p, ns
}

func user(id string) openfeature.FlattenedContext {
	return openfeature.FlattenedContext{openfeature.TargetingKey: id}
}

func TestBooleanEvaluation(t *testing.T) {
	t.Parallel()
	p, _ := newProvider(t)
	in, out := userAt(t, "half", 50, true), userAt(t, "half", 50, false)
	tests := []struct {
		name, flag string
		ctx        openfeature.FlattenedContext
		def, want  bool
		reason     openfeature.Reason
		code       openfeature.ErrorCode
		variant    string
	}{
		{"rollout on", "half", user(in), false, true, openfeature.SplitReason, "", "on"},
		{"rollout off", "half", user(out), true, false, openfeature.SplitReason, "", "off"},
		{"allowlist", "half", user("vip"), false, true, openfeature.TargetingMatchReason, "", "on"},
		{"denylist", "half", user("banned"), true, false, openfeature.TargetingMatchReason, "", "off"},
		{"rollout 100", "all", user(out), false, true, openfeature.DefaultReason, "", "on"},
		{"rollout 0", "none", user(in), true, false, openfeature.DefaultReason, "", "off"},
		{"disabled gives the default", "disabled", user(in), true, true, openfeature.DisabledReason, "", ""},
		{"missing flag", "nope", user(in), true, true, openfeature.ErrorReason, openfeature.FlagNotFoundCode, ""},
		{"invalid name", "", user(in), true, true, openfeature.ErrorReason, openfeature.FlagNotFoundCode, ""},
		{"no targeting key", "half", openfeature.FlattenedContext{}, true, true, openfeature.ErrorReason, openfeature.TargetingKeyMissingCode, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := p.BooleanEvaluation(context.Background(), tt.flag, tt.def, tt.ctx)
			assert.Equal(t, tt.want, r.Value)
			assert.Equal(t, tt.reason, r.Reason)
			assert.Equal(t, tt.code, r.ResolutionDetail().ErrorCode)
			assert.Equal(t, tt.variant, r.Variant)
		})
	}
}

func TestStringEvaluation(t *testing.T) {
	t.Parallel()
	p, _ := newProvider(t)
	in, out := userAt(t, "ab", 50, true), userAt(t, "ab", 50, false)
	want := flags.Flag{Enabled: true, RolloutPercent: 50, Variants: []flags.Variant{{Name: "red", Weight: 1}, {Name: "blue", Weight: 1}}}.Evaluate("ab", in).Variant
	require.NotEmpty(t, want)
	tests := []struct {
		name, flag, def, want string
		ctx                   openfeature.FlattenedContext
		reason                openfeature.Reason
		code                  openfeature.ErrorCode
	}{
		{"variant by split", "ab", "none", want, user(in), openfeature.SplitReason, ""},
		{"outside rollout gets default", "ab", "none", "none", user(out), openfeature.DefaultReason, ""},
		{"denylisted gets default", "ab", "none", "none", user("banned"), openfeature.TargetingMatchReason, ""},
		{"no variants", "half", "none", "none", user(in), openfeature.ErrorReason, openfeature.TypeMismatchCode},
		{"missing", "nope", "none", "none", user(in), openfeature.ErrorReason, openfeature.FlagNotFoundCode},
		{"disabled", "disabled", "none", "none", user(in), openfeature.DisabledReason, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := p.StringEvaluation(context.Background(), tt.flag, tt.def, tt.ctx)
			assert.Equal(t, tt.want, r.Value)
			assert.Equal(t, tt.reason, r.Reason)
			assert.Equal(t, tt.code, r.ResolutionDetail().ErrorCode)
		})
	}
	r := p.StringEvaluation(context.Background(), "ab", "none", user("vip"))
	assert.Equal(t, openfeature.TargetingMatchReason, r.Reason)
	assert.Contains(t, []string{"red", "blue"}, r.Value)
	assert.Equal(t, r.Value, r.Variant)
}

func TestLoadErrorIsGeneral(t *testing.T) {
	t.Parallel()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{}))
	c, err := flags.New(ns, flags.Options{})
	require.NoError(t, err)
	p, err := kvopenfeature.New(c)
	require.NoError(t, err)
	ns.FailWith(errors.New("down"))
	r := p.BooleanEvaluation(context.Background(), "f", true, user("u"))
	assert.True(t, r.Value)
	assert.Equal(t, openfeature.ErrorReason, r.Reason)
	assert.Equal(t, openfeature.GeneralCode, r.ResolutionDetail().ErrorCode)
}

func TestOtherTypesMismatch(t *testing.T) {
	t.Parallel()
	p, _ := newProvider(t)
	ctx := context.Background()
	assert.Equal(t, openfeature.TypeMismatchCode, p.FloatEvaluation(ctx, "half", 1, user("u")).ResolutionDetail().ErrorCode)
	assert.Equal(t, openfeature.TypeMismatchCode, p.IntEvaluation(ctx, "half", 1, user("u")).ResolutionDetail().ErrorCode)
	assert.Equal(t, openfeature.TypeMismatchCode, p.ObjectEvaluation(ctx, "half", nil, user("u")).ResolutionDetail().ErrorCode)
	assert.Equal(t, kvopenfeature.Name, p.Metadata().Name)
}

func TestNewRejectsNil(t *testing.T) {
	t.Parallel()
	_, err := kvopenfeature.New(nil)
	assert.ErrorIs(t, err, kv.ErrInvalidOptions)
}

// TestThroughOpenFeatureClient runs the provider behind the SDK's own
// client, as applications use it.
func TestThroughOpenFeatureClient(t *testing.T) {
	t.Parallel()
	p, ns := newProvider(t)
	ctx := context.Background()
	api := isolated.NewAPI()
	defer func() { require.NoError(t, api.Shutdown(ctx)) }()
	require.NoError(t, api.SetProviderAndWait(ctx, p))
	client := api.NewClient()

	d, err := client.BooleanValueDetails(ctx, "half", false, openfeature.NewEvaluationContext("vip", nil))
	require.NoError(t, err)
	assert.True(t, d.Value)
	assert.Equal(t, openfeature.TargetingMatchReason, d.Reason)

	d, err = client.BooleanValueDetails(ctx, "nope", true, openfeature.NewEvaluationContext("vip", nil))
	assert.Error(t, err)
	assert.True(t, d.Value)
	assert.Equal(t, openfeature.FlagNotFoundCode, d.ErrorCode)

	s, err := client.StringValueDetails(ctx, "ab", "none", openfeature.NewEvaluationContext("vip", nil))
	require.NoError(t, err)
	assert.Contains(t, []string{"red", "blue"}, s.Value)

	before := ns.Counts().Reads()
	for i := range 1000 {
		client.Boolean(ctx, "half", false, openfeature.NewEvaluationContext("u"+strconv.Itoa(i), nil))
	}
	assert.Equal(t, before, ns.Counts().Reads(), "evaluations are served from the flags cache")
}
