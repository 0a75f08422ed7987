package counter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/patterns/counter"
)

func TestKeyByIP(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		header  map[string][]string
		want    string
	}{
		{name: "IPv4 peer", remote: "203.0.113.7:4242", want: "203.0.113.7"},
		{name: "IPv6 peer grouped by /64", remote: "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443", want: "2001:db8:1:2::/64"},
		{name: "same /64, same key", remote: "[2001:db8:1:2::1]:1", want: "2001:db8:1:2::/64"},
		{name: "next /64, other key", remote: "[2001:db8:1:3::1]:1", want: "2001:db8:1:3::/64"},
		{name: "IPv4-mapped IPv6 is IPv4", remote: "[::ffff:198.51.100.1]:80", want: "198.51.100.1"},
		{name: "RemoteAddr without port", remote: "198.51.100.2", want: "198.51.100.2"},
		{name: "spoofed headers, no trusted proxies", remote: "203.0.113.7:1",
			header: map[string][]string{"Cf-Connecting-Ip": {"1.1.1.1"}, "X-Forwarded-For": {"1.1.1.2"}, "X-Real-Ip": {"1.1.1.3"}},
			want:   "203.0.113.7"},
		{name: "spoofed headers from an untrusted peer", trusted: proxies, remote: "203.0.113.7:1",
			header: map[string][]string{"Cf-Connecting-Ip": {"1.1.1.1"}, "X-Forwarded-For": {"1.1.1.2"}, "X-Real-Ip": {"1.1.1.3"}},
			want:   "203.0.113.7"},
		{name: "CF-Connecting-IP from a trusted proxy", trusted: proxies, remote: "10.1.2.3:1",
			header: map[string][]string{"Cf-Connecting-Ip": {"2001:db8:5:6::7"}, "X-Forwarded-For": {"1.1.1.2"}},
			want:   "2001:db8:5:6::/64"},
		{name: "X-Forwarded-For read from the right, trusted hops skipped", trusted: proxies, remote: "10.1.2.3:1",
			header: map[string][]string{"X-Forwarded-For": {"6.6.6.6, 198.51.100.9", "10.9.9.9"}},
			want:   "198.51.100.9"},
		{name: "X-Forwarded-For of trusted hops only: the leftmost", trusted: proxies, remote: "10.1.2.3:1",
			header: map[string][]string{"X-Forwarded-For": {"10.7.7.7, 10.8.8.8"}},
			want:   "10.7.7.7"},
		{name: "garbage in X-Forwarded-For falls back", trusted: proxies, remote: "10.1.2.3:1",
			header: map[string][]string{"X-Forwarded-For": {"nonsense"}, "X-Real-Ip": {"192.0.2.4"}},
			want:   "192.0.2.4"},
		{name: "X-Real-IP from a trusted IPv6 proxy", trusted: proxies, remote: "[2001:db8:ffff:1::1]:1",
			header: map[string][]string{"X-Real-Ip": {"192.0.2.5"}},
			want:   "192.0.2.5"},
		{name: "trusted proxy without headers: the proxy", trusted: proxies, remote: "10.1.2.3:1", want: "10.1.2.3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for k, v := range tc.header {
				r.Header[k] = v
			}
			got, err := counter.KeyByIP(tc.trusted...)(r)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	t.Run("unparseable RemoteAddr", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "pipe"
		_, err := counter.KeyByIP()(r)
		assert.ErrorIs(t, err, counter.ErrNoKey)
	})
	t.Run("invalid prefix panics at setup", func(t *testing.T) {
		t.Parallel()
		assert.Panics(t, func() { counter.KeyByIP(netip.Prefix{}) })
	})
}

func TestKeyByHeaderAndFunc(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	_, err := counter.KeyByHeader("x-api-key")(r)
	assert.ErrorIs(t, err, counter.ErrNoKey)
	r.Header.Set("X-Api-Key", "abc")
	got, err := counter.KeyByHeader("x-api-key")(r)
	require.NoError(t, err)
	assert.Equal(t, "abc", got)

	byPath := counter.KeyByFunc(func(r *http.Request) (string, error) { return "path:" + r.URL.Path, nil })
	got, err = byPath(r)
	require.NoError(t, err)
	assert.Equal(t, "path:/", got)
}

func TestCost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	assert.Equal(t, 1, counter.CostFrom(ctx))
	assert.Equal(t, 5, counter.CostFrom(counter.WithCost(ctx, 5)))
	assert.Equal(t, 1, counter.CostFrom(counter.WithCost(ctx, 0)), "a cost under 1 counts as 1")
}
