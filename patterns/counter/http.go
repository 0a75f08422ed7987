package counter

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// ErrNoKey is wrapped by key functions when a request carries nothing to key
// it by (no such header, an unparseable address). The middleware answers 400
// by default.
var ErrNoKey = errors.New("counter: request has no rate-limit key")

// KeyFunc returns the rate-limit key of a request. It is the generic form:
// any func(*http.Request) (string, error) is a KeyFunc, so keys can come from
// anything upstream middleware put in the request context (for example the
// session's user ID; see the package documentation).
type KeyFunc func(r *http.Request) (string, error)

// KeyByFunc returns fn as a KeyFunc; it only names the conversion.
func KeyByFunc(fn func(r *http.Request) (string, error)) KeyFunc { return fn }

// KeyByIP keys requests by client IP address, with IPv6 addresses grouped by
// their /64 prefix (one subscriber usually gets a whole /64, so keying by
// single IPv6 addresses gives each client 2^64 quotas).
//
// The address is the TCP peer's (r.RemoteAddr) unless the peer is inside one
// of trustedProxies: only then are CF-Connecting-IP, X-Forwarded-For (read
// from the right, skipping trusted proxies) and X-Real-IP believed, in that
// order. With no trusted proxies no header is ever read, so a client cannot
// buy a fresh quota by sending a forged header. List Cloudflare's ranges
// (https://www.cloudflare.com/ips/) when the origin is behind Cloudflare,
// and your load balancers' networks otherwise. It panics on an invalid
// prefix.
func KeyByIP(trustedProxies ...netip.Prefix) KeyFunc {
	trusted := make([]netip.Prefix, len(trustedProxies))
	for i, p := range trustedProxies {
		if !p.IsValid() {
			panic("counter: KeyByIP: invalid trusted proxy prefix")
		}
		trusted[i] = p.Masked()
	}
	return func(r *http.Request) (string, error) {
		ip, err := ClientIP(r, trusted...)
		if err != nil {
			return "", err
		}
		return IPKey(ip), nil
	}
}

// IPKey returns the key of ip: the address for IPv4, the /64 prefix for IPv6
// ("2001:db8:1:2::/64").
func IPKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// ClientIP returns the client address of r, reading forwarding headers only
// when the TCP peer is inside trustedProxies (see KeyByIP).
func ClientIP(r *http.Request, trustedProxies ...netip.Prefix) (netip.Addr, error) {
	peer, err := remoteAddr(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, err
	}
	if !inAny(peer, trustedProxies) {
		return peer, nil
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("CF-Connecting-IP"))); err == nil {
		return ip.Unmap(), nil
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		if ip, ok := fromForwardedFor(xff, trustedProxies); ok {
			return ip, nil
		}
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil {
		return ip.Unmap(), nil
	}
	return peer, nil
}

func remoteAddr(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap(), nil
	}
	return netip.Addr{}, errors.Join(ErrNoKey, errors.New("unparseable RemoteAddr "+strconv.Quote(s)))
}

func inAny(ip netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// fromForwardedFor walks X-Forwarded-For from the right (the hops the
// trusted proxies appended) and returns the first address that is not a
// trusted proxy. Anything left of it was written by the client and is not
// believed.
func fromForwardedFor(values []string, trusted []netip.Prefix) (netip.Addr, bool) {
	var last netip.Addr
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop, v = v, ""
			}
			ip, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return last, last.IsValid()
			}
			ip = ip.Unmap()
			if !inAny(ip, trusted) {
				return ip, true
			}
			last = ip
		}
	}
	return last, last.IsValid()
}

// KeyByHeader keys requests by the value of header name (an API key, a
// tenant ID). A request without it fails with ErrNoKey. Only use a header
// that an authenticating layer has checked: anyone can send any value.
func KeyByHeader(name string) KeyFunc {
	name = textproto.CanonicalMIMEHeaderKey(name)
	return func(r *http.Request) (string, error) {
		if v := r.Header.Get(name); v != "" {
			return v, nil
		}
		return "", errors.Join(ErrNoKey, errors.New("no "+name+" header"))
	}
}

// Headers names the response headers a rate-limit middleware writes. The
// zero value writes X-RateLimit-Limit, X-RateLimit-Remaining,
// X-RateLimit-Reset (Unix seconds of the window's end) and, on denied
// requests, Retry-After (seconds).
type Headers struct {
	// Limit names the limit header. "-" leaves it out. Default: X-RateLimit-Limit.
	Limit string
	// Remaining names the remaining header. "-" leaves it out. Default: X-RateLimit-Remaining.
	Remaining string
	// Reset names the reset header. "-" leaves it out. Default: X-RateLimit-Reset.
	Reset string
	// RetryAfter names the header of denied requests. "-" leaves it out.
	// Default: Retry-After.
	RetryAfter string
	// IETF also writes the fields of the IETF draft
	// (draft-ietf-httpapi-ratelimit-headers): RateLimit-Policy:
	// "<policy>";q=<limit>;w=<window seconds> and RateLimit:
	// "<policy>";r=<remaining>;t=<seconds to reset>. Default: false.
	IETF bool
	// Policy names the policy in the IETF fields. Default: "default".
	Policy string
}

// WithDefaults returns h with every empty field set to its default and
// header names in canonical form. Middleware calls it once at setup.
func (h Headers) WithDefaults() Headers {
	def := func(s, d string) string {
		if s == "" {
			s = d
		}
		if s == "-" {
			return s
		}
		return textproto.CanonicalMIMEHeaderKey(s)
	}
	h.Limit = def(h.Limit, "X-RateLimit-Limit")
	h.Remaining = def(h.Remaining, "X-RateLimit-Remaining")
	h.Reset = def(h.Reset, "X-RateLimit-Reset")
	h.RetryAfter = def(h.RetryAfter, "Retry-After")
	if h.Policy == "" {
		h.Policy = "default"
	}
	return h
}

// WriteHeaders writes res to h as hs names them (hs should have been through
// WithDefaults). Retry-After is written only when res is denied, in whole
// seconds rounded up.
func (l *Limiter) WriteHeaders(h http.Header, res Result, hs Headers) {
	w := l.winName.Load()
	if w == nil || !res.Reset.Equal(w.reset) {
		w = l.names(res.Reset.Add(-l.window))
	}
	limit, reset := w.limitText, w.resetUnix
	if res.Limit != int(l.limit) {
		limit = strconv.Itoa(res.Limit)
	}
	vals := make([]string, 0, 4) // one allocation for every header value
	set := func(k, v string) {
		if k != "-" && k != "" {
			vals = append(vals, v)
			h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	set(hs.Limit, limit)
	set(hs.Remaining, strconv.Itoa(res.Remaining))
	set(hs.Reset, reset)
	if !res.Allowed {
		set(hs.RetryAfter, strconv.FormatInt(ceilSeconds(res.RetryAfter), 10))
	}
	if hs.IETF {
		h["Ratelimit-Policy"] = []string{`"` + hs.Policy + `";q=` + limit + ";w=" + w.windowSecs}
		h["Ratelimit"] = []string{`"` + hs.Policy + `";r=` + strconv.Itoa(res.Remaining) +
			";t=" + strconv.FormatInt(ceilSeconds(res.Reset.Sub(l.now())), 10)}
	}
}

func ceilSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
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
