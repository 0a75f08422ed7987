package httpkey

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Proxies says which forwarding headers to believe, and from which peers.
// Each header is believed only from the proxies configured for it; the zero
// value believes none.
type Proxies struct {
	// Cloudflare believes CF-Connecting-IP when the request came from
	// Cloudflare: from a peer inside CloudflareRanges, or through
	// ForwardedFor proxies whose nearest untrusted hop is inside them.
	// Default: false.
	Cloudflare bool
	// CloudflareRanges replaces Cloudflare's published ranges (see
	// [CloudflareRanges]), for when Cloudflare changes them before this
	// package does. Default: CloudflareRanges().
	CloudflareRanges []netip.Prefix
	// ForwardedFor lists the proxies whose X-Forwarded-For is believed
	// (your load balancers). The header is read from the right, skipping
	// these proxies: the first other address is the one that connected to
	// them. Entries left of it were written by the client and are ignored.
	// Default: none.
	ForwardedFor []netip.Prefix
	// RealIP lists the proxies whose X-Real-IP is believed (an nginx that
	// sets it from $remote_addr). Default: none.
	RealIP []netip.Prefix
}

// cloudflareRanges are the ranges Cloudflare publishes at
// https://www.cloudflare.com/ips-v4 and https://www.cloudflare.com/ips-v6
// (unchanged since 2023; checked 2026-12-02).
var cloudflareRanges = []string{
	"173.245.48.0/20", "103.21.244.0/22", "103.22.200.0/22", "103.31.4.0/22",
	"141.101.64.0/18", "108.162.192.0/18", "190.93.240.0/20", "188.114.96.0/20",
	"197.234.240.0/22", "198.41.128.0/17", "162.158.0.0/15", "104.16.0.0/13",
	"104.24.0.0/14", "172.64.0.0/13", "131.0.72.0/22",
	"2400:cb00::/32", "2606:4700::/32", "2803:f800::/32", "2405:b500::/32",
	"2405:8100::/32", "2a06:98c0::/29", "2c0f:f248::/32",
}

// CloudflareRanges returns the IP ranges Cloudflare's edge connects from,
// as published at https://www.cloudflare.com/ips/ (a new slice each call).
func CloudflareRanges() []netip.Prefix {
	out := make([]netip.Prefix, len(cloudflareRanges))
	for i, s := range cloudflareRanges {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Resolver finds the client address of requests under one Proxies
// configuration. It is safe for concurrent use.
type Resolver struct {
	cloudflare bool
	cfRanges   []netip.Prefix
	xff, xrip  []netip.Prefix
}

// NewResolver validates p and returns its Resolver. An invalid prefix is an
// error.
func NewResolver(p Proxies) (*Resolver, error) {
	rv := &Resolver{cloudflare: p.Cloudflare}
	var err error
	if rv.xff, err = masked("ForwardedFor", p.ForwardedFor); err != nil {
		return nil, err
	}
	if rv.xrip, err = masked("RealIP", p.RealIP); err != nil {
		return nil, err
	}
	if p.Cloudflare {
		cf := p.CloudflareRanges
		if cf == nil {
			cf = CloudflareRanges()
		}
		if rv.cfRanges, err = masked("CloudflareRanges", cf); err != nil {
			return nil, err
		}
	}
	return rv, nil
}

func masked(field string, ps []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		if !p.IsValid() {
			return nil, fmt.Errorf("httpkey: Proxies.%s[%d] is not a valid prefix", field, i)
		}
		out[i] = p.Masked()
	}
	return out, nil
}

// ClientIP returns the client address of r:
//
//  1. the TCP peer (r.RemoteAddr);
//  2. if the peer is one of the RealIP proxies and X-Real-IP is an
//     address, that address;
//  3. if the peer is one of the ForwardedFor proxies, the first address of
//     X-Forwarded-For, read from the right, that is not one of them (the
//     hop that reached them);
//  4. if Cloudflare is set and that hop (or the peer) is inside
//     Cloudflare's ranges, CF-Connecting-IP when it is an address.
//
// IPv4-mapped IPv6 addresses are unmapped. An unparseable RemoteAddr
// fails with an error wrapping ErrNoKey.
func (rv *Resolver) ClientIP(r *http.Request) (netip.Addr, error) {
	peer, err := remoteAddr(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(rv.xrip) > 0 && inAny(peer, rv.xrip) {
		if ip, ok := parseIP(r.Header.Get("X-Real-Ip")); ok {
			return ip, nil
		}
	}
	hop := peer
	if len(rv.xff) > 0 && inAny(peer, rv.xff) {
		if ip, ok := fromForwardedFor(r.Header.Values("X-Forwarded-For"), rv.xff); ok {
			hop = ip
		}
	}
	if rv.cloudflare && inAny(hop, rv.cfRanges) {
		if ip, ok := parseIP(r.Header.Get("Cf-Connecting-Ip")); ok {
			return ip, nil
		}
	}
	return hop, nil
}

func parseIP(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

func remoteAddr(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.WithZone("").Unmap(), nil
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
// trusted proxies appended, across repeated header lines) and returns the
// first address that is not a trusted proxy. A malformed entry stops the
// walk: what is left of it cannot be trusted, so the last trusted hop
// seen stands (ok is false when there is none).
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
			ip, ok := parseIP(hop)
			if !ok {
				return last, last.IsValid()
			}
			if !inAny(ip, trusted) {
				return ip, true
			}
			last = ip
		}
	}
	return last, last.IsValid()
}

// IPConfig configures ByIP.
type IPConfig struct {
	// Proxies says which forwarding headers to believe. Default: none,
	// the key is the TCP peer's address.
	Proxies
	// IPv6Prefix groups IPv6 addresses by their first IPv6Prefix bits: one
	// subscriber usually gets a whole /64 (or /56, /48), so keying single
	// IPv6 addresses gives each client 2^64 quotas. 1..128. Default: 64.
	IPv6Prefix int
	// IPv4Prefix groups IPv4 addresses likewise (24 keys a /24 together).
	// 1..32. Default: 32, one key per address.
	IPv4Prefix int
}

// ByIP keys requests by client address (see [Resolver.ClientIP]), IPv6
// grouped by IPv6Prefix bits and IPv4 by IPv4Prefix. It panics on an
// invalid config, as middleware constructors do; use [NewResolver] and
// [IPKey] to handle the error.
func ByIP(cfg IPConfig) KeyFunc {
	rv, err := NewResolver(cfg.Proxies)
	if err != nil {
		panic(err)
	}
	v4, v6 := cfg.IPv4Prefix, cfg.IPv6Prefix
	if v4 == 0 {
		v4 = 32
	}
	if v6 == 0 {
		v6 = 64
	}
	if v4 < 1 || v4 > 32 || v6 < 1 || v6 > 128 {
		panic(fmt.Sprintf("httpkey: IPConfig prefixes out of range: IPv4Prefix %d (1..32), IPv6Prefix %d (1..128)", cfg.IPv4Prefix, cfg.IPv6Prefix))
	}
	return func(r *http.Request) (string, error) {
		ip, err := rv.ClientIP(r)
		if err != nil {
			return "", err
		}
		if ip.Is4() && v4 == 32 {
			if k, ok := peerText(r.RemoteAddr, ip); ok {
				return k, nil
			}
		}
		return IPKey(ip, v4, v6), nil
	}
}

// peerText returns the address part of remoteAddr when it is ip written as
// ip.String() writes it (an IPv4 peer's "203.0.113.7:4242"), so that the
// key of a request keyed by its peer costs no allocation.
func peerText(remoteAddr string, ip netip.Addr) (string, bool) {
	var buf [len("255.255.255.255")]byte
	b := ip.AppendTo(buf[:0])
	n := len(b)
	if len(remoteAddr) < n || remoteAddr[:n] != string(b) || (len(remoteAddr) > n && remoteAddr[n] != ':') {
		return "", false
	}
	return remoteAddr[:n], true
}

// IPKey returns the key of ip: the address itself when the prefix length
// covers it whole (an IPv4 address with v4Bits 32), else the prefix
// ("2001:db8:1:2::/64").
func IPKey(ip netip.Addr, v4Bits, v6Bits int) string {
	ip = ip.Unmap()
	bits := v6Bits
	if ip.Is4() {
		bits = v4Bits
	}
	if bits >= ip.BitLen() {
		return ip.String()
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ip.String()
	}
	return p.String()
}
