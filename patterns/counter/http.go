package counter

import (
	"net/http"
	"net/textproto"
	"strconv"
	"time"
)

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
