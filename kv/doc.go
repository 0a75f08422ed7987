// Package kv is kvkit's typed client for Cloudflare Workers KV.
//
// Two layers:
//
//   - [Namespace] is the byte-level binding every backend implements (get
//     with metadata, put with TTL / expiration / metadata, delete, one list
//     page), with the optional [BulkNamespace] and [StreamNamespace]. The
//     backends are kv/memory (embedded, faithful to KV's limits),
//     kv/cloudflare (the REST API) and kv/worker (a Worker's binding, with
//     its edge cache).
//   - [Store] is the typed client over a Namespace: values of one Go type
//     encoded by a [Codec] (JSON by default, [Text] byte-identical to a
//     Worker's text serializer, [Bytes]), a key prefix, a default TTL, a
//     bounded in-process read cache, the edge cache TTL of binding reads,
//     bulk reads and writes, and listing as an auto-paginating iterator.
//
// Quick start:
//
//	users, err := kv.New[User](memory.New(memory.Options{}), kv.Options{Prefix: "user:"})
//	if err != nil { ... }
//	err = users.Put(ctx, "42", User{Name: "Ada"}, kv.WithTTL(time.Hour))
//	u, found, err := users.Get(ctx, "42")
//
// KV's rules (keys of 1 to 512 bytes of valid UTF-8, TTL >= 60 s, metadata
// <= 1024 bytes, ...) are checked before any request, so bad input never costs a call and never
// writes half of anything. Every error is an [*Error] naming the operation
// and key and unwrapping to a sentinel such as [ErrInvalidKey] or
// [ErrRateLimited]; a missing key is not an error (found == false).
package kv
