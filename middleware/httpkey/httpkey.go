// Package httpkey turns HTTP requests into keys: the client's IP address
// (believing forwarding headers only from the proxies configured for each),
// a header's value, or anything else. Both rate-limit middlewares
// (nethttp.RateLimit and kvecho.RateLimit) take a [KeyFunc] from here, and
// [Resolver.ClientIP] answers "who is the client" for any other use.
//
//	// Behind Cloudflare: CF-Connecting-IP is believed from Cloudflare's
//	// published ranges only; any other peer is keyed by its own address.
//	key := httpkey.ByIP(httpkey.IPConfig{Proxies: httpkey.Proxies{Cloudflare: true}})
//
//	// Behind your own load balancer at 10.0.0.0/8, which appends to
//	// X-Forwarded-For:
//	key = httpkey.ByIP(httpkey.IPConfig{Proxies: httpkey.Proxies{
//		ForwardedFor: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
//	}})
//
// No header is believed by default: with the zero Proxies the key is the
// TCP peer's address, so a client cannot buy a fresh quota by sending a
// forged header.
package httpkey

import (
	"context"
	"errors"
	"net/http"
	"net/textproto"
)

// httpkeyError is the type of the package's sentinel errors.
type httpkeyError string

func (e httpkeyError) Error() string { return string(e) }

// ErrNoKey is wrapped by key functions when a request carries nothing to key
// it by (no such header, an unparseable address). The rate-limit
// middlewares answer 400 by default.
const ErrNoKey httpkeyError = "httpkey: request has no key"

// KeyFunc returns the key of a request. Any func(*http.Request) (string,
// error) is a KeyFunc, so keys can come from anything upstream middleware
// put in the request's context (for example the session's user ID).
type KeyFunc func(r *http.Request) (string, error)

// ByHeader keys requests by the value of header name (an API key, a tenant
// ID). A request without it fails with ErrNoKey. Only use a header that an
// authenticating layer has checked: anyone can send any value.
func ByHeader(name string) KeyFunc {
	name = textproto.CanonicalMIMEHeaderKey(name)
	missing := errors.Join(ErrNoKey, errors.New("no "+name+" header"))
	return func(r *http.Request) (string, error) {
		if v := r.Header.Get(name); v != "" {
			return v, nil
		}
		return "", missing
	}
}

type costKey struct{}

// WithCost returns a context that makes the rate-limit middleware count a
// request as n events (n >= 1) instead of one, like httprate's
// WithIncrement. Set it in middleware that runs before the limiter (for
// example, expensive routes cost 5).
func WithCost(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, costKey{}, n)
}

// CostFrom returns the cost set by WithCost, or 1.
func CostFrom(ctx context.Context) int {
	if n, ok := ctx.Value(costKey{}).(int); ok && n >= 1 {
		return n
	}
	return 1
}
