package cache

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
)

func TestRequestKey(t *testing.T) {
	t.Parallel()
	c := &ResponseCache{trusted: map[string]bool{}}
	for _, tc := range []struct {
		name, host, target string
		hdr                []string
		want               string
	}{
		{"path", "example.com", "/a", nil, "http://example.com/a"},
		{"sorted query, empty parameters dropped", "example.com", "/a?b=2&&a=1", nil, "http://example.com/a?a=1&b=2"},
		{"host lower-cased, default port dropped", "EXAMPLE.com:80", "/", nil, "http://example.com/"},
		{"other port kept", "example.com:8080", "/", nil, "http://example.com:8080/"},
		{"https by X-Forwarded-Proto", "example.com:443", "/", []string{"X-Forwarded-Proto", "HTTPS, http"}, "https://example.com/"},
		{"unknown X-Forwarded-Proto ignored", "example.com", "/", []string{"X-Forwarded-Proto", "gopher"}, "http://example.com/"},
		{"odd host bytes escaped", "a/b?c%d", "/x", nil, "http://a%2Fb%3Fc%25d/x"},
		{"IPv6 literal", "[::1]:80", "/", nil, "http://[::1]/"},
		{"empty host", "", "/", nil, "http:///"},
		{"X-Forwarded-Host not trusted", "example.com", "/", []string{"X-Forwarded-Host", "evil.example"}, "http://example.com/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest("GET", tc.target, nil)
			require.NoError(t, err)
			r.Host = tc.host
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				r.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			assert.Equal(t, tc.want, c.requestKey(r))
		})
	}
	trusting := &ResponseCache{trusted: map[string]bool{"X-Forwarded-Host": true}}
	r, _ := http.NewRequest("GET", "/p", nil)
	r.Host = "backend:8080"
	r.Header.Set("X-Forwarded-Host", "Shop.Example, cdn.example")
	assert.Equal(t, "http://shop.example/p", trusting.requestKey(r))
}

func TestPersonalCookie(t *testing.T) {
	t.Parallel()
	c := &ResponseCache{ignored: map[string]bool{"_ga": true, "consent": true}}
	for v, want := range map[string]bool{
		"":                     false,
		"_ga=1":                false,
		"_ga=1; consent=yes":   false,
		" _ga=1 ;consent":      false,
		"_ga=1; session=abc":   true,
		"session=abc":          true,
		"=novalue; _ga=1":      false,
		"_GA=1":                true, // cookie names are case-sensitive
		"consent=1;;;other=2 ": true,
	} {
		h := http.Header{}
		if v != "" {
			h.Set("Cookie", v)
		}
		assert.Equal(t, want, c.personalCookie(h), "%q", v)
	}
	assert.True(t, (&ResponseCache{}).personalCookie(http.Header{"Cookie": {"_ga=1"}}), "without IgnoreCookies every cookie counts")
}

// FuzzRequestKey checks what every key must be, whatever a client sends
// as Host, X-Forwarded-Proto, path and query: a page's key starts with
// "http://" or "https://" and its host part has no "/" or "?" (so pages,
// tag records and hashed keys never share a KV key), it maps to a valid KV
// key, it is stable under reordering the query, and equal keys mean equal
// normalised hosts.
func FuzzRequestKey(f *testing.F) {
	f.Add("example.com", "", "/a/b", "b=2&a=1", "products")
	f.Add("!tag", "", "/foo", "", "foo")
	f.Add("EXAMPLE.com:443", "https", "/", "a=1&a=0&&b", "")
	f.Add("a/b?c", "http, https", "/%zz", "x=%00", "t/a")
	f.Add("[::1]:80", "HTTPS", "/é", "q=1;2", "!tag/x")
	const prefix = "http:"
	f.Fuzz(func(t *testing.T, host, proto, path, query, tag string) {
		u := &url.URL{Path: path, RawQuery: query}
		r := &http.Request{Method: "GET", Host: host, URL: u, Header: http.Header{}}
		if proto != "" {
			r.Header.Set("X-Forwarded-Proto", proto)
		}
		c := &ResponseCache{trusted: map[string]bool{}}
		key := c.requestKey(r)
		rest, ok := strings.CutPrefix(key, "https://")
		if !ok {
			rest, ok = strings.CutPrefix(key, "http://")
		}
		if !ok {
			t.Fatalf("key %q has no scheme", key)
		}
		hostPart, _, _ := strings.Cut(rest, "/")
		if strings.ContainsAny(hostPart, "?#") || strings.ContainsFunc(hostPart, func(r rune) bool { return r < ' ' || r > '~' }) {
			t.Fatalf("host part %q of %q is not escaped", hostPart, key)
		}
		full := kvKeyFor(prefix, key)
		if err := kv.ValidateKey(full); err != nil {
			t.Fatalf("KV key %q of %q: %v", full, key, err)
		}
		c.o.Prefix = prefix
		if tk := c.tagKey(tag); tk == full {
			t.Fatalf("page %q and tag %q share the KV key %q", key, tag, full)
		}
		if strings.HasPrefix(full, prefix+"!tag/") {
			t.Fatalf("page KV key %q is in the tags' space", full)
		}
		// Sorting is idempotent: the key of the key's own query is the key.
		base, q, _ := strings.Cut(key, "?")
		if q != "" {
			again := string(appendKey(nil, "", q))
			if want := "?" + q; again != want {
				t.Fatalf("query %q sorts again to %q", want, again)
			}
		}
		_ = base
		// The key does not depend on the case of the host.
		r2 := r.Clone(r.Context())
		r2.Host = strings.ToUpper(host)
		if strings.ToUpper(host) == strings.ToLower(strings.ToUpper(host)) || !isASCII(host) {
			return
		}
		if k2 := c.requestKey(r2); k2 != key {
			t.Fatalf("host %q and %q: keys %q and %q", host, r2.Host, key, k2)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzParseCacheControl checks the Cache-Control parser on any input: it
// never panics, durations are never negative nor over 2^31 s, directive
// names are case-insensitive, and several field lines mean the same as
// one line joined by commas (RFC 9110 §5.3).
func FuzzParseCacheControl(f *testing.F) {
	f.Add("public, max-age=60", "s-maxage=30")
	f.Add(`no-cache="Set-Cookie", private`, "")
	f.Add("max-age=-1, stale-while-revalidate=99999999999999", "stale-if-error=\"10\"")
	f.Add("MAX-AGE=10,,NO-STORE", " must-revalidate ")
	f.Fuzz(func(t *testing.T, a, b string) {
		lines := parseCacheControl([]string{a, b})
		joined := parseCacheControl([]string{a + "," + b})
		if lines != joined {
			t.Fatalf("%q + %q: %+v as two lines, %+v as one", a, b, lines, joined)
		}
		for _, d := range []time.Duration{lines.maxAge, lines.sMaxAge, lines.swr, lines.sie} {
			if d < 0 || d > (1<<31)*time.Second {
				t.Fatalf("%q, %q: duration %v", a, b, d)
			}
		}
		if !isASCII(a) || !isASCII(b) {
			return // case folding of other scripts may change lengths
		}
		if upper := parseCacheControl([]string{strings.ToUpper(a), strings.ToUpper(b)}); upper != lines {
			t.Fatalf("%q, %q: %+v upper-cased, %+v as sent", a, b, upper, lines)
		}
	})
}
