// Package cloudflare is kvkit's Workers KV backend over the Cloudflare REST
// API (github.com/cloudflare/cloudflare-go/v7). A [Namespace] implements
// kv.Namespace, kv.BulkNamespace and kv.StreamNamespace, so a kv.Store on it
// reads and writes in bulk:
//
//	ns, err := cloudflare.FromEnv(cloudflare.Options{}) // CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, KVKIT_NAMESPACE_ID
//	if err != nil {
//		log.Fatal(err)
//	}
//	users := kv.Must(kv.New[User](ns, kv.Options{Prefix: "user:", CacheTTL: time.Minute}))
//	u, found, err := users.Get(ctx, "42")
//
// [New] takes the SDK's KV service (kv.NewKVService, or client.KV of the
// SDK's root client). The package imports only the SDK's kv and option
// packages: the SDK's root package imports every Cloudflare product's API,
// and compiling it takes minutes and over a gigabyte of memory.
//
// # Requests
//
// Every call is an HTTPS request against an account-wide budget of 1,200
// requests per 5 minutes; past it, every call fails with 429 for five
// minutes. The backend spends them carefully: Get is one request (with
// metadata too: one bulk read of the key); GetBulk is one request per 100
// keys, PutBulk and DeleteBulk one per 10,000 pairs; List is one per page of
// up to 1,000 keys. [Namespace.Requests] counts the requests made, by
// endpoint, retries included.
//
// # What it does about the SDK's traps
//
//   - Keys are escaped with url.PathEscape (the SDK does not escape them:
//     "a/b", "a?b", "a#b" and "100%" would reach other URLs), and "", "."
//     and ".." are rejected before any request.
//   - Request bodies are built here and handed to the SDK whole
//     (option.WithRequestBody): metadata as one JSON text field beside the
//     value (the SDK would flatten a Go value into separate form fields),
//     and the SDK's multipart encoder, which has a data race under
//     concurrent use (docs/upstream-bugs.md), is never reached.
//   - Listing follows the cursor itself: an empty page with a cursor is not
//     the end (the SDK's auto-pager stops there).
//   - Bulk reads parse the raw JSON (the SDK's typed result is nil when any
//     key is missing). Bulk reads are text-only in the REST API: a value that
//     is not valid UTF-8 would come back with U+FFFD in place of its bad
//     bytes, so any value containing U+FFFD is read again with a plain GET,
//     which returns the exact bytes (one more request per such value).
//     Bulk writes send non-UTF-8 values base64-encoded.
//   - The SDK's retries are off; the Namespace retries 429, 408, 5xx and
//     transport errors itself, with exponential backoff and jitter, waiting
//     out Retry-After up to Options.MaxRetryAfter, at most
//     Options.MaxAttempts requests, and never past the context's deadline.
//
// # Errors
//
// Errors are *kv.Error values naming the operation and key. They wrap a
// kv sentinel: kv.ErrRateLimited (429), kv.ErrUnauthorized (401/403),
// kv.ErrUnavailable (5xx, transport), kv.ErrNotFound (404 for a missing
// namespace; a missing key is found == false, not an error). errors.As
// reaches an [APIError] with the HTTP status and the API's error codes and
// messages, and through it the SDK's own error. [RetryAfter] reads the wait a 429 asked for. Bulk writes that the
// API accepts only in part return a *kv.BulkError listing the failed keys.
//
// The REST API documents a minimum list limit of 10; the backend passes
// smaller limits through unchanged.
//
// For tests and offline development, kvkit serve (package kv/kvserver) speaks
// the same API locally; point CLOUDFLARE_BASE_URL at it.
package cloudflare
