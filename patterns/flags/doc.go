// Package flags serves feature flags stored in Workers KV, deciding each
// user's rollout exactly as the TypeScript recipe does, so a Go service and
// a Worker reading the same namespace agree on every decision.
//
// A definition is JSON under a prefix (default "flag:"):
//
//	{"enabled": true, "rolloutPercent": 25, "allowlist": ["12345"]}
//
// Evaluation order: a missing flag is off; enabled false is off; a user in
// the denylist (an optional extension) is off; a user in the allowlist is
// on; otherwise the user is on iff [Bucket](flag, userID) < rolloutPercent.
//
// A [Client] keeps definitions in memory for a TTL (default 30 s), loads
// each flag at most once per TTL (absent flags included, one load in flight
// per flag), keeps serving the last known definition when KV fails, and
// starts no goroutines. The cache is bounded: at most Options.MaxFlags
// flags and, apart from them, Options.MaxAbsent names that are not flags
// (10,000 each by default, the least checked evicted first), so names taken
// from requests cost memory within a bound and never evict a flag:
//
//	fl, err := flags.New(ns, flags.Options{})
//	if err != nil { ... }
//	if fl.IsEnabled(ctx, "new-ui", userID) { ... }
//
// [Client.Set], [Client.Delete], [Client.List] and [Client.EvaluateAll]
// are the admin side. The middleware in kvkit's middleware/nethttp and
// middleware/echo binds an [Evaluator] per request; an OpenFeature provider
// lives in the sub-package patterns/flags/openfeature.
package flags
