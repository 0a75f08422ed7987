// Package worker is kvkit's Workers KV backend through a Worker's binding:
// a small Worker (worker/ in this repository, plain JavaScript, deployed
// with wrangler) holds the namespace as its KV binding and serves it over
// HTTPS; a [Namespace] calls it. It implements kv.Namespace,
// kv.BulkNamespace and kv.StreamNamespace.
//
//	ns, err := worker.FromEnv(worker.Options{}) // KVKIT_WORKER_URL, KVKIT_WORKER_SECRET
//	if err != nil {
//		log.Fatal(err)
//	}
//	users := kv.Must(kv.New[User](ns, kv.Options{Prefix: "user:", EdgeCacheTTL: time.Minute}))
//	u, found, err := users.Get(ctx, "42")
//
// # Why a Worker
//
// Compared with the REST API (kv/cloudflare):
//
//   - No API budget. The REST API allows the whole account 1,200 requests
//     per 5 minutes; requests to a Worker are not API requests (Workers
//     have their own, much larger, limits and pricing).
//   - The edge cache. A binding read takes cacheTtl: Cloudflare's data
//     center serves the value from its cache for that long before asking
//     KV's central store again; the REST API has no such parameter. Set it
//     per Store (kv.Options.EdgeCacheTTL, the TypeScript client's
//     defaultCacheTtl) or per read (kv.EdgeCacheFor, kv.NoEdgeCache); it
//     reaches the binding as GetOptions.EdgeCacheTTL → cacheTtl.
//   - The binding's semantics exactly, since it is the binding: the same
//     reads and writes a TypeScript Worker sharing the namespace makes.
//
// # Requests and KV operations
//
// Get, Put, Delete and List are one request each; GetBulk is one request
// for up to 100 keys (one binding call). The binding has no bulk write, so
// PutBulk and DeleteBulk send at most MaxBulkWritePerRequest pairs per
// request (Workers allow 1,000 KV operations per invocation), which the
// Worker writes one by one. A Get with metadata costs two KV operations in
// one request: the binding's get does not return the expiration, so the
// Worker lists the key too (list operations are billed like writes). A Get
// without metadata leaves Entry.Expiration zero. [Namespace.Requests]
// counts requests per endpoint and the KV operations the Worker reports.
//
// # Auth
//
// Every request carries the shared secret (Authorization: Bearer), which
// the Worker compares in constant time with its KVKIT_SECRET and, while a
// new secret is being rolled out, KVKIT_SECRET_NEXT; anything else is
// answered 401 before the binding is touched (kv.ErrUnauthorized). Plain
// http is refused except to a loopback address.
//
// # Retries and errors
//
// Like kv/cloudflare: 429, 408, 5xx and transport errors are retried with
// exponential backoff and jitter, waiting out Retry-After up to
// Options.MaxRetryAfter, at most Options.MaxAttempts requests, and never
// past the context's deadline. A streamed PutStream of more than 1 MiB
// cannot be replayed and is not retried. Errors are *kv.Error values
// wrapping a kv sentinel: what the binding refuses (invalid key, TTL or
// cacheTtl too small, value or metadata too large, an expiration too soon)
// maps to the same sentinels as kvkit's own checks, and errors.As reaches
// an [Error] carrying the binding's message. Every rule is checked before
// any request, with one addition: keys (and list prefixes) must be valid
// UTF-8, because the binding takes JavaScript strings.
//
// The protocol between the two is in worker/README.md.
package worker
