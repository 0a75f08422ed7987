// Package kvserver is a local server that speaks the Cloudflare v4 Workers KV
// REST API, backed by the embedded [memory] backend, so it enforces the same
// limits as real KV (docs/cloudflare-kv.md §1 and §6; docs/kvserver.md) and answers with the status
// codes, v4 envelope and error codes (10009 for a missing key) of the real
// API. It is what `kvkit serve` runs, and what kvkit's Cloudflare backend is
// tested against over real HTTP through the real SDK.
//
// It answers, under /client/v4 (or without that prefix):
//
//	GET|POST          /accounts/{acc}/storage/kv/namespaces
//	GET|PUT|DELETE    /accounts/{acc}/storage/kv/namespaces/{id}
//	GET|PUT|DELETE    …/namespaces/{id}/values/{key}   (PUT: raw body or multipart value+metadata)
//	GET               …/namespaces/{id}/metadata/{key}
//	GET               …/namespaces/{id}/keys?prefix=&limit=&cursor=
//	PUT               …/namespaces/{id}/bulk
//	POST              …/namespaces/{id}/bulk/delete
//	POST              …/namespaces/{id}/bulk/get       (type text|json, withMetadata)
//
// Keys in paths must be percent-encoded (url.PathEscape), as for the real API.
//
// It answers as the real API does where that is documented, and as close
// as it can where it is not (docs/kvserver.md lists which is which):
//
//   - A namespace exists only once created (POST …/namespaces, or
//     [Server.CreateNamespace] in Go). Every namespace-scoped endpoint
//     answers 404 with error code 10013 for an unknown or deleted one,
//     unless [Options.AutoCreate] is set.
//   - Namespace listing takes order (id|title), direction (asc|desc), page
//     (>= 1) and per_page (1..1000, default 20); a value out of range is a
//     400. result_info carries page, per_page, count, total_count and
//     total_pages.
//   - Key listing takes limit 10..1000 (the REST minimum), a prefix of at
//     most 512 bytes (414 beyond), and only cursors the server issued (400
//     otherwise).
//   - Bulk get answers its values object in the order the keys were asked
//     for.
//   - With [Options.Token], "Authorization: Bearer <token>" and the legacy
//     "X-Auth-Email" + "X-Auth-Key: <token>" pair are accepted.
//
// For tests, [Server.Inject] queues programmed responses per [Route] (429
// with Retry-After, 5xx, slow responses, dropped connections, empty but
// incomplete list pages, partial bulk failures) and [Server.Hits] counts
// requests per route:
//
//	srv, _ := kvserver.New(kvserver.Options{Token: "secret"})
//	nsID := srv.CreateNamespace("", "test")
//	srv.Inject(kvserver.RouteGetValue, kvserver.Fault{Status: 429, RetryAfter: time.Second})
//	ts := httptest.NewServer(srv)
//	defer ts.Close()
//	// point a client at ts.URL + "/client/v4"
//
// [Server.Save] and [Server.Load] persist all namespaces to a JSON file.
package kvserver
