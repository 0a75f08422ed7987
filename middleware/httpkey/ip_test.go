package httpkey_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/middleware/httpkey"
)

var (
	lb     = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	cfEdge = "172.70.1.2:443" // inside 172.64.0.0/13
)

func request(remote string, header map[string][]string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remote
	for k, v := range header {
		r.Header[http.CanonicalHeaderKey(k)] = v
	}
	return r
}

func TestByIP(t *testing.T) {
	t.Parallel()
	spoofed := map[string][]string{"CF-Connecting-IP": {"1.1.1.1"}, "X-Forwarded-For": {"1.1.1.2"}, "X-Real-IP": {"1.1.1.3"}}
	tests := []struct {
		name   string
		cfg    httpkey.IPConfig
		remote string
		header map[string][]string
		want   string
	}{
		{name: "IPv4 peer", remote: "203.0.113.7:4242", want: "203.0.113.7"},
		{name: "IPv6 peer grouped by /64", remote: "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443", want: "2001:db8:1:2::/64"},
		{name: "same /64, same key", remote: "[2001:db8:1:2::1]:1", want: "2001:db8:1:2::/64"},
		{name: "next /64, other key", remote: "[2001:db8:1:3::1]:1", want: "2001:db8:1:3::/64"},
		{name: "IPv6 grouped by /48 when asked", cfg: httpkey.IPConfig{IPv6Prefix: 48}, remote: "[2001:db8:1:3::1]:1", want: "2001:db8:1::/48"},
		{name: "IPv4 grouped by /24 when asked", cfg: httpkey.IPConfig{IPv4Prefix: 24}, remote: "203.0.113.7:1", want: "203.0.113.0/24"},
		{name: "IPv6 /128 is the address", cfg: httpkey.IPConfig{IPv6Prefix: 128}, remote: "[2001:db8::1]:1", want: "2001:db8::1"},
		{name: "IPv4-mapped IPv6 is IPv4", remote: "[::ffff:198.51.100.1]:80", want: "198.51.100.1"},
		{name: "zone dropped", remote: "[fe80::1%eth0]:80", want: "fe80::/64"},
		{name: "RemoteAddr without port", remote: "198.51.100.2", want: "198.51.100.2"},
		{name: "no proxies: no header believed", remote: "203.0.113.7:1", header: spoofed, want: "203.0.113.7"},
		{name: "proxies, but an untrusted peer", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{Cloudflare: true, ForwardedFor: lb, RealIP: lb}},
			remote: "203.0.113.7:1", header: spoofed, want: "203.0.113.7"},
		{name: "CF-Connecting-IP from a Cloudflare peer", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{Cloudflare: true}},
			remote: cfEdge, header: map[string][]string{"CF-Connecting-IP": {"2001:db8:5:6::7"}}, want: "2001:db8:5:6::/64"},
		{name: "CF-Connecting-IP ignored without Cloudflare set", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{ForwardedFor: lb}},
			remote: "10.1.2.3:1", header: map[string][]string{"CF-Connecting-IP": {"1.1.1.1"}}, want: "10.1.2.3"},
		{name: "CF-Connecting-IP through a load balancer from Cloudflare", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{Cloudflare: true, ForwardedFor: lb}},
			remote: "10.1.2.3:1", header: map[string][]string{"CF-Connecting-IP": {"198.51.100.50"}, "X-Forwarded-For": {"198.51.100.50, 172.70.1.2"}},
			want: "198.51.100.50"},
		{name: "CF-Connecting-IP through a load balancer, not from Cloudflare", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{Cloudflare: true, ForwardedFor: lb}},
			remote: "10.1.2.3:1", header: map[string][]string{"CF-Connecting-IP": {"1.1.1.1"}, "X-Forwarded-For": {"203.0.113.9"}},
			want: "203.0.113.9"},
		{name: "CF ranges overridden", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{Cloudflare: true, CloudflareRanges: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}},
			remote: "192.0.2.1:1", header: map[string][]string{"CF-Connecting-IP": {"198.51.100.1"}}, want: "198.51.100.1"},
		{name: "X-Forwarded-For read from the right, trusted hops skipped", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{ForwardedFor: lb}},
			remote: "10.1.2.3:1", header: map[string][]string{"X-Forwarded-For": {"6.6.6.6, 198.51.100.9", "10.9.9.9"}}, want: "198.51.100.9"},
		{name: "X-Forwarded-For of trusted hops only: the leftmost", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{ForwardedFor: lb}},
			remote: "10.1.2.3:1", header: map[string][]string{"X-Forwarded-For": {"10.7.7.7, 10.8.8.8"}}, want: "10.7.7.7"},
		{name: "garbage in X-Forwarded-For: the peer", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{ForwardedFor: lb}},
			remote: "10.1.2.3:1", header: map[string][]string{"X-Forwarded-For": {"nonsense"}}, want: "10.1.2.3"},
		{name: "X-Real-IP only from its own proxies", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{ForwardedFor: lb}},
			remote: "10.1.2.3:1", header: map[string][]string{"X-Real-IP": {"192.0.2.4"}}, want: "10.1.2.3"},
		{name: "X-Real-IP from a trusted IPv6 proxy", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{RealIP: lb}},
			remote: "[2001:db8:ffff:1::1]:1", header: map[string][]string{"X-Real-IP": {"192.0.2.5"}}, want: "192.0.2.5"},
		{name: "trusted proxy without headers: the proxy", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{ForwardedFor: lb}},
			remote: "10.1.2.3:1", want: "10.1.2.3"},
		{name: "X-Real-IP that extends the peer's text", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{RealIP: lb}},
			remote: "10.1.2.3:1", header: map[string][]string{"X-Real-IP": {"10.1.2.34"}}, want: "10.1.2.34"},
		{name: "X-Real-IP that is a prefix of the peer's text", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{RealIP: lb}},
			remote: "10.1.2.34:1", header: map[string][]string{"X-Real-IP": {"10.1.2.3"}}, want: "10.1.2.3"},
		{name: "X-Real-IP equal to a portless peer", cfg: httpkey.IPConfig{Proxies: httpkey.Proxies{RealIP: lb}},
			remote: "10.1.2.34", header: map[string][]string{"X-Real-IP": {"10.1.2.3"}}, want: "10.1.2.3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := httpkey.ByIP(tc.cfg)(request(tc.remote, tc.header))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	t.Run("unparseable RemoteAddr", func(t *testing.T) {
		t.Parallel()
		_, err := httpkey.ByIP(httpkey.IPConfig{})(request("pipe", nil))
		assert.ErrorIs(t, err, httpkey.ErrNoKey)
	})
	t.Run("invalid config panics at setup", func(t *testing.T) {
		t.Parallel()
		assert.Panics(t, func() { httpkey.ByIP(httpkey.IPConfig{Proxies: httpkey.Proxies{ForwardedFor: []netip.Prefix{{}}}}) })
		assert.Panics(t, func() { httpkey.ByIP(httpkey.IPConfig{IPv6Prefix: 129}) })
		assert.Panics(t, func() { httpkey.ByIP(httpkey.IPConfig{IPv4Prefix: -1}) })
		_, err := httpkey.NewResolver(httpkey.Proxies{RealIP: []netip.Prefix{{}}})
		assert.ErrorContains(t, err, "RealIP[0]")
	})
}

// Keying an IPv4 peer by its whole address takes the key from RemoteAddr
// itself: no allocation.
func TestByIPPeerAllocates0(t *testing.T) {
	key := httpkey.ByIP(httpkey.IPConfig{})
	r := request("203.0.113.7:4242", nil)
	var got string
	allocs := testing.AllocsPerRun(100, func() { got, _ = key(r) })
	assert.Equal(t, "203.0.113.7", got)
	assert.Zero(t, allocs)
}

// The audit's bypass (issue 12): a load balancer trusted for
// X-Forwarded-For let a client choose its key through CF-Connecting-IP.
// Twenty requests with twenty forged values are one key now.
func TestSpoofedCFConnectingIPThroughLoadBalancer(t *testing.T) {
	t.Parallel()
	key := httpkey.ByIP(httpkey.IPConfig{Proxies: httpkey.Proxies{ForwardedFor: lb}})
	keys := map[string]bool{}
	for i := range 20 {
		r := request("10.0.0.5:1234", map[string][]string{
			"CF-Connecting-IP": {netip.AddrFrom4([4]byte{1, 2, 3, byte(i)}).String()},
			"X-Forwarded-For":  {"203.0.113.77"},
		})
		k, err := key(r)
		require.NoError(t, err)
		keys[k] = true
	}
	assert.Equal(t, map[string]bool{"203.0.113.77": true}, keys)
}

func TestCloudflareRanges(t *testing.T) {
	t.Parallel()
	rs := httpkey.CloudflareRanges()
	assert.Len(t, rs, 22)
	rs[0] = netip.Prefix{} // a copy: callers cannot change the package's list
	assert.True(t, httpkey.CloudflareRanges()[0].IsValid())
}

func TestByHeader(t *testing.T) {
	t.Parallel()
	key := httpkey.ByHeader("x-api-key")
	k, err := key(request("1.2.3.4:1", map[string][]string{"X-Api-Key": {"abc"}}))
	require.NoError(t, err)
	assert.Equal(t, "abc", k)
	_, err = key(request("1.2.3.4:1", nil))
	assert.ErrorIs(t, err, httpkey.ErrNoKey)
}

func TestCost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	assert.Equal(t, 1, httpkey.CostFrom(ctx))
	assert.Equal(t, 5, httpkey.CostFrom(httpkey.WithCost(ctx, 5)))
	assert.Equal(t, 1, httpkey.CostFrom(httpkey.WithCost(ctx, 0)), "a cost under 1 is 1")
}

// FuzzClientIP: whatever the headers and peer, ClientIP never panics, and
// what it returns is either the peer or an address some header carried.
func FuzzClientIP(f *testing.F) {
	f.Add("10.1.2.3:1", "6.6.6.6, 198.51.100.9", "1.1.1.1", "192.0.2.4")
	f.Add("172.70.1.2:443", "", "2001:db8::1", "")
	f.Add("[2001:db8:ffff::1]:1", ",,,", "::ffff:1.2.3.4", "fe80::1%eth0")
	f.Add("pipe", "x", "y", "z")
	rv, err := httpkey.NewResolver(httpkey.Proxies{Cloudflare: true, ForwardedFor: lb, RealIP: lb})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, remote, xff, cf, xrip string) {
		r := request(remote, map[string][]string{"X-Forwarded-For": {xff}, "CF-Connecting-IP": {cf}, "X-Real-IP": {xrip}})
		ip, err := rv.ClientIP(r)
		if err != nil {
			require.ErrorIs(t, err, httpkey.ErrNoKey)
			return
		}
		require.True(t, ip.IsValid())
		require.False(t, ip.Is4In6(), "unmapped")
		s := ip.String()
		all := remote + " " + xff + " " + cf + " " + xrip
		if !strings.Contains(all, s) {
			// Unmapping and canonical forms change the text: compare parsed.
			found := false
			for _, f := range strings.FieldsFunc(all, func(r rune) bool { return r == ',' || r == ' ' || r == '[' || r == ']' }) {
				if a, err := netip.ParseAddr(f); err == nil && a.Unmap().WithZone("") == ip {
					found = true
				}
				if ap, err := netip.ParseAddrPort(f); err == nil && ap.Addr().Unmap().WithZone("") == ip {
					found = true
				}
			}
			require.True(t, found, "%v came from nowhere in %q", ip, all)
		}
	})
}
