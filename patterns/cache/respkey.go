package cache

import (
	"net/http"
	"net/url"
	"strings"
)

// The key of a stored response is its target URI (RFC 9111 §4): scheme,
// "://", host, escaped path, and the query with its parameters sorted by
// name. Every page key starts with "http://" or "https://", so it can never
// equal another record the cache writes under the same prefix: a tag's
// purge generation ("!tag/" + tag), the purge log ("!purges") or a hashed
// key ("#" + hex).
//
// The scheme is X-Forwarded-Proto's first value when it is http or https,
// else https for a TLS connection and http otherwise. Keying on it (rather
// than trusting or refusing it) is safe: a client that sends its own value
// only reaches the entries of that scheme. The host is lower-cased, loses a
// port that is the scheme's default, and has every byte outside
// [a-z0-9.:[]_-] percent-escaped, so it never contains "/" and the first
// "/" after "://" always starts the path.

// requestKey returns the key of r.
func (c *ResponseCache) requestKey(r *http.Request) string {
	var arr [256]byte
	return string(c.appendRequestKey(arr[:0], r))
}

// appendRequestKey appends the key of r to b.
func (c *ResponseCache) appendRequestKey(b []byte, r *http.Request) []byte {
	scheme, _ := requestScheme(r)
	host := r.Host
	if c.trusted["X-Forwarded-Host"] {
		if v := r.Header["X-Forwarded-Host"]; len(v) > 0 {
			host, _, _ = strings.Cut(v[0], ",")
			host = strings.TrimSpace(host)
		}
	}
	return appendURLKey(b, scheme, host, r.URL)
}

// urlKey is the key of scheme, host and u's path and query.
func urlKey(scheme, host string, u *url.URL) string {
	var arr [256]byte
	return string(appendURLKey(arr[:0], scheme, host, u))
}

// appendURLKey appends urlKey(scheme, host, u) to b.
func appendURLKey(b []byte, scheme, host string, u *url.URL) []byte {
	path := u.EscapedPath()
	b = append(b, scheme...)
	b = append(b, "://"...)
	b = appendHost(b, host, scheme)
	if !strings.HasPrefix(path, "/") {
		b = append(b, '/') // the path starts the first "/" after the host
	}
	return appendKey(b, path, u.RawQuery)
}

// requestScheme returns r's scheme for the key, and false when
// X-Forwarded-Proto names something else than http or https.
func requestScheme(r *http.Request) (string, bool) {
	if v := r.Header["X-Forwarded-Proto"]; len(v) > 0 {
		p, _, _ := strings.Cut(v[0], ",")
		switch p = strings.TrimSpace(p); {
		case strings.EqualFold(p, "https"):
			return "https", true
		case strings.EqualFold(p, "http"):
			return "http", true
		}
		if r.TLS != nil {
			return "https", false
		}
		return "http", false
	}
	if r.TLS != nil {
		return "https", true
	}
	return "http", true
}

// appendHost appends host, normalised for scheme, to b.
func appendHost(b []byte, host, scheme string) []byte {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		if port := host[i+1:]; port == "" || port == defaultPort(scheme) {
			host = host[:i]
		}
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(host); i++ {
		switch ch := host[i]; {
		case 'A' <= ch && ch <= 'Z':
			b = append(b, ch+'a'-'A')
		case 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '.', ch == '-', ch == ':', ch == '[', ch == ']', ch == '_':
			b = append(b, ch)
		default:
			b = append(b, '%', hex[ch>>4], hex[ch&15])
		}
	}
	return b
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// hostPort is the port of a normalised host.
func hostPort(host, scheme string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[i+1:]
	}
	return defaultPort(scheme)
}

// normHost is host as it appears in a key.
func normHost(host, scheme string) string {
	var arr [128]byte
	return string(appendHost(arr[:0], host, scheme))
}

// forwardChecks are the forwarding request headers that can make a handler
// believe it serves another URL than the key's, and how each is checked.
var forwardChecks = []struct {
	name string
	kind byte // 'h': must name the request's host; 'p': its port; 's': its scheme; 'x': never
}{
	{"X-Forwarded-Host", 'h'}, {"X-Host", 'h'}, {"X-Original-Host", 'h'},
	{"X-Forwarded-Port", 'p'}, {"X-Forwarded-Scheme", 's'},
	{"X-Forwarded-Prefix", 'x'}, {"X-Original-Url", 'x'}, {"X-Rewrite-Url", 'x'}, {"Forwarded", 'x'},
}

// forwarded reports whether r carries an untrusted forwarding header whose
// value the key does not capture (see ResponseOptions.TrustedHeaders).
func (c *ResponseCache) forwarded(r *http.Request) bool {
	scheme, ok := requestScheme(r)
	if !ok {
		return true
	}
	var host string // the request's, normalised, when needed
	for _, fc := range forwardChecks {
		vals := r.Header[fc.name]
		if len(vals) == 0 || c.trusted[fc.name] {
			continue
		}
		if fc.kind == 'x' {
			return true
		}
		if host == "" {
			host = normHost(r.Host, scheme)
		}
		for _, v := range vals {
			for part := range strings.SplitSeq(v, ",") {
				part = strings.TrimSpace(part)
				var good bool
				switch fc.kind {
				case 'h':
					good = normHost(part, scheme) == host
				case 'p':
					good = part == hostPort(host, scheme)
				case 's':
					good = strings.EqualFold(part, scheme)
				}
				if !good {
					return true
				}
			}
		}
	}
	return false
}

// personalCookie reports whether h carries a cookie not named in
// IgnoreCookies.
func (c *ResponseCache) personalCookie(h http.Header) bool {
	vals := h["Cookie"]
	if len(vals) == 0 {
		return false
	}
	if c.ignored == nil {
		return true
	}
	for _, v := range vals {
		for part := range strings.SplitSeq(v, ";") {
			name, _, _ := strings.Cut(part, "=")
			if name = strings.TrimSpace(name); name != "" && !c.ignored[name] {
				return true
			}
		}
	}
	return false
}

// pathOf is the part of a key before its query: the unit MaxMissesPerPath
// counts.
func pathOf(key string) string {
	if i := strings.IndexByte(key, '?'); i >= 0 {
		return key[:i]
	}
	return key
}
