// Package kvserver is a local server that speaks the Cloudflare v4 Workers KV
// REST API, backed by the embedded [memory] backend, so it enforces the same
// limits as real KV (docs/cloudflare-kv.md §1 and §6) and answers with the status
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
// For tests, [Server.Inject] queues programmed responses per [Route] (429
// with Retry-After, 5xx, slow responses, dropped connections, empty but
// incomplete list pages, partial bulk failures) and [Server.Hits] counts
// requests per route:
//
//	srv, _ := kvserver.New(kvserver.Options{Token: "secret", AutoCreate: true})
//	srv.Inject(kvserver.RouteGetValue, kvserver.Fault{Status: 429, RetryAfter: time.Second})
//	ts := httptest.NewServer(srv)
//	defer ts.Close()
//	// point a client at ts.URL + "/client/v4"
//
// [Server.Save] and [Server.Load] persist all namespaces to a JSON file.
package kvserver
