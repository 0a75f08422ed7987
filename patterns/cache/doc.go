// Package cache is kvkit's read-through cache and HTTP response cache over a
// Workers KV namespace, each with a bounded in-process tier in front of KV.
//
// # Read-through
//
// [Cache.Get] returns a fresh value from memory with no KV call, else from
// KV, else from the [Loader]. Concurrent misses of one key share one KV
// read, one load and one KV write (golang.org/x/sync/singleflight); a caller
// whose context ends returns ctx.Err() at once while the load goes on for
// the others on a detached context with its own timeout; a panicking loader
// becomes a [*PanicError] for every waiter; loader errors are never cached
// (except "not found", wrapping kv.ErrNotFound, with [Options.NegativeTTL]).
// Stale-while-revalidate and stale-if-error windows, TTL jitter and
// [Cache.Invalidate] are options and methods; freshness is stored with the
// value, and KV's own TTL covers the whole life of an entry (at least 60 s).
//
//	users, err := cache.New[User](ns, cache.Options{Prefix: "user:", TTL: time.Minute})
//	if err != nil { ... }
//	defer users.Close(context.Background())
//	u, err := users.Get(ctx, "42", cache.LoaderFunc[User](func(ctx context.Context, id string) (User, error) {
//		return db.User(ctx, id)
//	}))
//
// One key must always be loaded by loaders that compute the same value:
// callers of one key share one load, whichever caller's loader runs.
//
// # Responses
//
// [ResponseCache] stores GET responses (HEAD is answered from the GET
// entry) under the method-independent URL with a sorted query, plus the
// request headers named in the response's Vary. It follows RFC 9111's
// rules for a shared cache: no-store, private, no-cache, Set-Cookie and
// Vary: * responses are never stored, nor answers to requests carrying
// Authorization unless the response is public or has s-maxage; s-maxage,
// max-age or Expires set the TTL, else [ResponseOptions.TTL]. It reports
// what it did in Cache-Status (RFC 9211) and Age, collapses concurrent
// misses of one URL into one handler call, streams responses over
// [ResponseOptions.MaxBodySize] (or flushed ones) through uncached, and
// purges by URL or, in O(1), by tag. When KV fails it serves from the
// handler and logs, at most once a minute per kind of failure.
//
// The net/http and Echo middlewares in kvkit/middleware are thin adapters
// over [ResponseCache.Serve]:
//
//	rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{TTL: time.Minute})
//	if err != nil { ... }
//	defer rc.Close(context.Background())
//	http.ListenAndServe(":8080", nethttp.Cache(rc)(mux))
//
// Both caches keep hot entries in internal/lcache (otter v2, shared with
// kv.Store's read cache) and start goroutines only for background
// refreshes, which Close cancels and waits for.
package cache
