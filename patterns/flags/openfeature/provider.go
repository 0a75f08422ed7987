// Package kvopenfeature is an OpenFeature provider
// (github.com/open-feature/go-sdk) backed by kvkit's patterns/flags: code
// written against the vendor-neutral OpenFeature API evaluates flags stored
// in Workers KV, with the same decisions as the TypeScript recipe. It is a
// package of its own so that only its importers depend on the OpenFeature
// SDK. Import it with its name written out:
//
//	kvopenfeature "github.com/kvkit/kvkit/patterns/flags/openfeature"
//
// Boolean flags come from the rollout rule, string flags from the weighted
// variants; the user is the evaluation context's targeting key:
//
//	fl, _ := flags.New(ns, flags.Options{})
//	p, _ := kvopenfeature.New(fl)
//	_ = openfeature.SetProviderAndWait(p)
//	client := openfeature.NewDefaultClient()
//	on := client.Boolean(ctx, "new-ui", false, openfeature.NewEvaluationContext(userID, nil))
package kvopenfeature

import (
	"context"
	"errors"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/patterns/flags"
)

// Name is the provider's name in its Metadata.
const Name = "kvkit-flags"

// The variant names of boolean evaluations.
const (
	VariantOn  = "on"
	VariantOff = "off"
)

// Provider is an openfeature.FeatureProvider over a flags.Client. It is safe
// for concurrent use and starts no goroutines.
//
// Reasons: a flag decided by the allowlist or denylist is TARGETING_MATCH;
// by the bucket with a rollout strictly between 0 and 100, SPLIT; by a
// rollout of 0 or 100 (the same for everyone), DEFAULT; a flag with enabled
// false is DISABLED and resolves to the caller's default value. A missing
// flag is ERROR with FLAG_NOT_FOUND; a flag that cannot be loaded (and was
// never loaded) is ERROR with GENERAL; a missing targeting key is ERROR with
// TARGETING_KEY_MISSING. Float, int and object evaluations are
// TYPE_MISMATCH: flags are booleans with optional string variants.
type Provider struct {
	c *flags.Client
}

var _ openfeature.FeatureProvider = (*Provider)(nil)

// New returns a Provider over c. It fails with kv.ErrInvalidOptions for a
// nil client.
func New(c *flags.Client) (*Provider, error) {
	if c == nil {
		return nil, &kv.Error{Op: "new", Err: errors.Join(kv.ErrInvalidOptions, errors.New("flags client is nil"))}
	}
	return &Provider{c: c}, nil
}

// Metadata implements openfeature.FeatureProvider.
func (p *Provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: Name} }

// Hooks implements openfeature.FeatureProvider; the provider has none.
func (p *Provider) Hooks() []openfeature.Hook { return nil }

// resolve runs the steps every evaluation shares: load the definition and
// the user. When done is true, detail is the answer (the caller's default
// value applies).
func (p *Provider) resolve(ctx context.Context, name string, flatCtx openfeature.FlattenedContext) (f flags.Flag, user string, detail openfeature.ProviderResolutionDetail, done bool) {
	f, found, err := p.c.Get(ctx, name)
	switch {
	case err != nil && errors.Is(err, kv.ErrInvalidKey):
		return f, "", errorDetail(openfeature.NewFlagNotFoundResolutionError(err.Error())), true
	case err != nil:
		return f, "", errorDetail(openfeature.NewGeneralResolutionError(err.Error())), true
	case !found:
		return f, "", errorDetail(openfeature.NewFlagNotFoundResolutionError("flag " + name + " not found")), true
	case !f.Enabled:
		return f, "", openfeature.ProviderResolutionDetail{Reason: openfeature.DisabledReason}, true
	}
	user, ok := flatCtx[openfeature.TargetingKey].(string)
	if !ok {
		return f, "", errorDetail(openfeature.NewTargetingKeyMissingResolutionError("a targeting key (the user ID) is required")), true
	}
	return f, user, openfeature.ProviderResolutionDetail{}, false
}

func errorDetail(e openfeature.ResolutionError) openfeature.ProviderResolutionDetail {
	return openfeature.ProviderResolutionDetail{ResolutionError: e, Reason: openfeature.ErrorReason}
}

// rolloutReason is SPLIT when the rollout really splits users, else DEFAULT.
func rolloutReason(f flags.Flag) openfeature.Reason {
	if f.RolloutPercent > 0 && f.RolloutPercent < 100 {
		return openfeature.SplitReason
	}
	return openfeature.DefaultReason
}

// BooleanEvaluation resolves a flag from the rollout rule.
func (p *Provider) BooleanEvaluation(ctx context.Context, flag string, defaultValue bool, flatCtx openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	f, user, detail, done := p.resolve(ctx, flag, flatCtx)
	if done {
		return openfeature.BoolResolutionDetail{Value: defaultValue, ProviderResolutionDetail: detail}
	}
	d, _ := p.c.Evaluate(ctx, flag, user) // served from the cache Lookup filled
	detail.Variant = VariantOff
	if d.Enabled {
		detail.Variant = VariantOn
	}
	switch d.Reason {
	case flags.ReasonAllowed, flags.ReasonDenied:
		detail.Reason = openfeature.TargetingMatchReason
	default:
		detail.Reason = rolloutReason(f)
	}
	return openfeature.BoolResolutionDetail{Value: d.Enabled, ProviderResolutionDetail: detail}
}

// StringEvaluation resolves a flag to the user's variant. A user who does
// not get the flag gets the default value (reason TARGETING_MATCH when
// denylisted, DEFAULT otherwise); a flag without variants is TYPE_MISMATCH.
func (p *Provider) StringEvaluation(ctx context.Context, flag string, defaultValue string, flatCtx openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	f, user, detail, done := p.resolve(ctx, flag, flatCtx)
	if done {
		return openfeature.StringResolutionDetail{Value: defaultValue, ProviderResolutionDetail: detail}
	}
	if len(f.Variants) == 0 {
		return openfeature.StringResolutionDetail{Value: defaultValue, ProviderResolutionDetail: errorDetail(
			openfeature.NewTypeMismatchResolutionError("flag " + flag + " has no variants"))}
	}
	d, _ := p.c.Evaluate(ctx, flag, user) // served from the cache Lookup filled
	switch {
	case d.Reason == flags.ReasonDenied:
		detail.Reason = openfeature.TargetingMatchReason
		return openfeature.StringResolutionDetail{Value: defaultValue, ProviderResolutionDetail: detail}
	case !d.Enabled:
		detail.Reason = openfeature.DefaultReason
		return openfeature.StringResolutionDetail{Value: defaultValue, ProviderResolutionDetail: detail}
	case d.Reason == flags.ReasonAllowed:
		detail.Reason = openfeature.TargetingMatchReason
	default:
		detail.Reason = openfeature.SplitReason
	}
	detail.Variant = d.Variant
	return openfeature.StringResolutionDetail{Value: d.Variant, ProviderResolutionDetail: detail}
}

func mismatch(flag, kind string) openfeature.ProviderResolutionDetail {
	return errorDetail(openfeature.NewTypeMismatchResolutionError("flag " + flag + " is a boolean flag with string variants, not " + kind))
}

// FloatEvaluation implements openfeature.FeatureProvider: TYPE_MISMATCH.
func (p *Provider) FloatEvaluation(ctx context.Context, flag string, defaultValue float64, flatCtx openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return openfeature.FloatResolutionDetail{Value: defaultValue, ProviderResolutionDetail: mismatch(flag, "a float")}
}

// IntEvaluation implements openfeature.FeatureProvider: TYPE_MISMATCH.
func (p *Provider) IntEvaluation(ctx context.Context, flag string, defaultValue int64, flatCtx openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return openfeature.IntResolutionDetail{Value: defaultValue, ProviderResolutionDetail: mismatch(flag, "an int")}
}

// ObjectEvaluation implements openfeature.FeatureProvider: TYPE_MISMATCH.
func (p *Provider) ObjectEvaluation(ctx context.Context, flag string, defaultValue any, flatCtx openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	return openfeature.InterfaceResolutionDetail{Value: defaultValue, ProviderResolutionDetail: mismatch(flag, "an object")}
}
