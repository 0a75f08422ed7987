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
// A [Client] loads every definition under the prefix together, with one
// listing per 1,000 flags and one bulk read per 100, on first use and again
// once they are older than the TTL (default 30 s, one reload in flight). It
// serves them from an immutable snapshot swapped atomically, so a check is
// a map lookup plus the SHA-256, whatever the number of flags, and a name
// that is not a flag costs no KV call and no memory (it is off until a
// reload lists it). When a load fails in KV it keeps serving the last
// definitions loaded; a definition that does not decode fails only its own
// flag (off, with a kv.ErrCodec error from Evaluate, logged; its last known
// definition is served if it had one). It starts no goroutines. Set and Delete through the Client
// are served at once; other writers' changes within the TTL:
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
