// Package ratelimithttp holds what the net/http and Echo rate-limit
// middlewares share beyond patterns/counter.
package ratelimithttp

import (
	"net/http"

	"github.com/kvkit/kvkit/internal/reqmark"
	"github.com/kvkit/kvkit/patterns/counter"
)

// PerClient returns the names of the headers hs (after WithDefaults) makes
// the limiter write: they describe one client's quota.
func PerClient(hs counter.Headers) []string {
	var names []string
	for _, n := range []string{hs.Limit, hs.Remaining, hs.Reset, hs.RetryAfter} {
		if n != "" && n != "-" {
			names = append(names, n)
		}
	}
	if hs.IETF {
		names = append(names, "Ratelimit", "Ratelimit-Policy")
	}
	return names
}

// Mark tells a response cache that runs outside the rate limit (and stores
// what the handler behind it answers) that names belong to this request's
// client only, so it stores the response without them. names is what
// PerClient returned, made once per middleware and never changed.
func Mark(r *http.Request, names *[]string) {
	reqmark.From(r.Context()).PerClientList(names)
}
