// Package cache is kvkit's read-through cache and HTTP response cache over a
// Workers KV namespace, each with a bounded in-process tier in front of KV.
//
// # Read-through
//
// [Cache.Get] returns a fresh value from memory with no KV call, else from
// KV, else from the [Loader]. Concurrent misses of one key share one KV
// read, one load and one KV write (a per-key flight, as with singleflight); a caller
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
// entry, and a HEAD miss stores the GET response) under their target URI, as RFC 9111 §4 keys them: scheme, host
// (lower-cased, default port dropped) and path, with the query's parameters
// sorted, plus the request headers named in the response's Vary. The scheme
// is X-Forwarded-Proto's when it says http or https. It follows RFC 9111's
// rules for a shared cache: no-store, private, no-cache, Set-Cookie and
// Vary: * responses are never stored, nor answers to requests carrying
// Authorization, or a cookie not named in [ResponseOptions.IgnoreCookies],
// unless the response is public or has s-maxage; s-maxage, max-age or
// Expires set the TTL, else [ResponseOptions.TTL].
//
// What a hostile client cannot do:
//
//   - get a page rendered for someone else: a response is never stored when
//     it leaves with Set-Cookie (checked on the header as it finally goes
//     out, after the middlewares outside the cache added theirs), or when
//     the request's session (patterns/session) was read with the client's
//     cookie or changed, whichever of the session and cache middlewares runs
//     outside (the two share a per-request mark in the context; Cache-Status
//     says detail=personal);
//   - poison a page through a header the key does not capture: a request
//     carrying X-Forwarded-Host (or X-Host, X-Original-Host) for another
//     host, an X-Forwarded-Port or X-Forwarded-Scheme that disagrees with
//     the request, or X-Forwarded-Prefix, X-Original-URL, X-Rewrite-URL or
//     Forwarded, is answered from stored entries but its own response is not
//     stored (detail=forwarded), unless [ResponseOptions.TrustedHeaders]
//     says a proxy sets that header;
//   - make a page key collide with a tag's purge record: page keys all
//     start with "http://" or "https://", tag records with "!tag/";
//   - grow memory past [ResponseOptions.LocalMaxBytes], which counts
//     headers, tags and bookkeeping as well as keys and bodies (100,000
//     entries with 4 KB of headers grow the heap by about 59 MiB under the
//     default 64 MiB);
//   - spend the KV budget with distinct query strings or Vary values: at
//     most [ResponseOptions.MaxMissesPerPath] (default 16) misses a minute
//     per path read KV and may be stored; past it the handler answers with
//     no KV call (detail=path-limit). 300,000 distinct query strings on one
//     path cost 16 reads and 16 writes, not 300,000 of each.
//
// A stored response is written to KV after it has been sent, in the
// background (at most [ResponseOptions.MaxPendingStores] at a time; Close
// cancels them): a slow KV write costs the client nothing. Cache-Status
// (RFC 9211) says fwd=miss on a miss and never "stored", since the write has
// not happened when the header leaves; [ResponseCache.Stats] counts the
// writes that did. Each KV read made while a client waits gives up after
// [ResponseOptions.KVTimeout] (default 500 ms), so a KV outage costs a miss
// that long at most, not the seconds of the backend's retries. When KV
// fails the cache serves from the handler and logs, at most once a minute
// per kind of failure.
//
// Hits answer conditional requests with 304 (If-None-Match,
// If-Modified-Since) and Range requests on a stored 200 with 206, single
// or multipart/byteranges, or 416 (RFC 9110 §14; If-Range honoured,
// malformed ranges ignored), through http.ServeContent over the stored
// body. A 206 from the handler is never stored. The client's Cache-Control
// request directives count (RFC 9111 §5.2.1): no-cache and max-age=0 go
// to the handler and store its response, max-age and min-fresh refuse
// responses too old or too close to expiry, max-stale accepts stale ones,
// only-if-cached answers 504 rather than call the handler;
// [ResponseOptions.IgnoreRequestNoCache] ignores the first three, so that
// clients cannot defeat the cache. [ResponseOptions.Jitter] spreads
// expiries.
//
// PurgeURL and PurgeTag apply at once in their process and reach the other
// processes sharing the namespace within [ResponseOptions.PurgeBound]
// (default 5 s) through a purge log record in KV that each process reads at
// most once per bound (12 KV reads a minute per process at 5 s, whatever
// its traffic). KV's own consistency limits this (60 s or more across
// Cloudflare locations), and KV has no compare-and-swap, so two purges at
// the same moment may lose one log append: tag generations are then re-read
// within a minute and URLs leave memory with LocalTTL.
//
// A stale entry with a validator of the handler's (its ETag, or
// Last-Modified) is kept past expiry for [ResponseOptions.KeepStale] and
// revalidated: the handler is called with If-None-Match / If-Modified-Since
// set to the entry's validators (never the client's), both on a miss and in
// a stale-while-revalidate refresh. A 304 renews the entry's headers and
// freshness (RFC 9111 §4.3.4) and the client gets the stored body with
// Cache-Status fwd=stale; fwd-status=304; the KV write is one Put of the
// entry with the body it already had (KV has no partial update and bills
// per operation, and a separate header record would add a KV read to every
// lookup). A 200 replaces the entry.
//
// It also reports Age, collapses concurrent misses of one URL into one
// handler call, streams responses over [ResponseOptions.MaxBodySize] (or
// flushed ones) through uncached, and purges by URL or, in O(1), by tag.
//
// The net/http and Echo middlewares in kvkit/middleware are thin adapters
// over [ResponseCache.Serve]:
//
//	rc, err := cache.NewResponseCache(ns, cache.ResponseOptions{TTL: time.Minute})
//	if err != nil { ... }
//	defer rc.Close(context.Background())
//	http.ListenAndServe(":8080", nethttp.Cache(rc)(mux))
//
// The read-through cache keeps hot entries in internal/lcache (otter v2,
// shared with kv.Store's read cache). The response cache has its own
// in-process tier, a sharded hash map bounded by bytes with sampled
// second-chance eviction, built so that a hit at 100,000 URLs reads two
// objects (the map slot and the entry) where otter's lookup read six.
// Both start goroutines only for background refreshes, which Close cancels
// and waits for.
package cache
