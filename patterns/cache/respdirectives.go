package cache

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// reqDirectives are the Cache-Control request directives of RFC 9111
// §5.2.1 that change which stored response may answer a request. A nil
// *reqDirectives (no Cache-Control, or none of these) changes nothing.
type reqDirectives struct {
	noCache     bool          // no-cache or max-age=0: only a response from the handler, or one stored since the request arrived
	maxAge      int64         // seconds; -1: none
	maxStale    time.Duration // with hasMaxStale: how stale; anyStale: any
	hasMaxStale bool
	anyStale    bool
	minFresh    time.Duration // with hasMinFresh
	hasMinFresh bool
	onlyCached  bool
}

// requestDirectives parses r's Cache-Control request directives (no-store
// is read by Serve itself). Malformed values are ignored, as if the
// directive were absent. With IgnoreRequestNoCache, no-cache, max-age and
// min-fresh are dropped.
func (c *ResponseCache) requestDirectives(values []string) *reqDirectives {
	if len(values) == 0 {
		return nil
	}
	rd := reqDirectives{maxAge: -1}
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			name, arg, hasArg := strings.Cut(strings.TrimSpace(d), "=")
			arg = strings.TrimSpace(arg)
			if len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"' {
				arg = arg[1 : len(arg)-1]
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-cache":
				rd.noCache = true
			case "max-age":
				if n, ok := deltaSeconds(arg); ok {
					rd.maxAge = n
				}
			case "max-stale":
				if !hasArg {
					rd.hasMaxStale, rd.anyStale = true, true
				} else if n, ok := deltaSeconds(arg); ok {
					rd.hasMaxStale, rd.maxStale = true, time.Duration(n)*time.Second
				}
			case "min-fresh":
				if n, ok := deltaSeconds(arg); ok {
					rd.hasMinFresh, rd.minFresh = true, time.Duration(n)*time.Second
				}
			case "only-if-cached":
				rd.onlyCached = true
			}
		}
	}
	if c.o.IgnoreRequestNoCache {
		rd.noCache, rd.maxAge, rd.hasMinFresh = false, -1, false
	}
	if rd.maxAge == 0 {
		rd.noCache = true // RFC 9111 §5.2.1.1: no stored response is young enough
	}
	if !rd.noCache && rd.maxAge < 0 && !rd.hasMaxStale && !rd.hasMinFresh && !rd.onlyCached {
		return nil
	}
	return &rd
}

// deltaSeconds parses delta-seconds (RFC 9111 §1.2.2): digits only,
// saturating at 2^31 seconds.
func deltaSeconds(s string) (int64, bool) { return digitsUpTo(s, 1<<31) }

// onlyIfCached reports whether the request said only-if-cached.
func (rd *reqDirectives) onlyIfCached() bool { return rd != nil && rd.onlyCached }

// afterFlight returns rd for a request that waited for another request's
// handler call that stored a response: that response was made after this
// request arrived, so it satisfies no-cache and max-age.
func (rd *reqDirectives) afterFlight() *reqDirectives {
	if rd == nil || (!rd.noCache && rd.maxAge < 0) {
		return rd
	}
	r2 := *rd
	r2.noCache, r2.maxAge = false, -1
	return &r2
}

// verdict is what a stored response may do for a request.
type verdict uint8

const (
	useNone      verdict = iota // not at all: forward
	useCandidate                // only in place of a 5xx or an error (stale-if-error): forward
	useFresh                    // answer, fresh
	useStale                    // answer stale, and refresh in the background (stale-while-revalidate)
	useMaxStale                 // answer stale, because the request's max-stale allows it
)

// judge decides what e may do for a request with directives rd at now.
// Without directives: fresh answers, within stale-while-revalidate
// answers stale, within stale-if-error is a candidate. A request's
// no-cache (or max-age=0) turns every stored response into a candidate
// only; max-age=N refuses responses older than N seconds; min-fresh=N
// refuses responses with less than N seconds of freshness left (and every
// stale one); max-stale[=N] accepts a response stale by at most N seconds
// (any, without N) unless it said must-revalidate, proxy-revalidate or
// s-maxage (RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.10). A stale response is
// kept only until its stale-while-revalidate and stale-if-error windows
// end, so max-stale reaches no further.
func (rd *reqDirectives) judge(e *respEntry, now time.Time) verdict {
	v := rd.accept(e, now)
	if v == useCandidate && now.UnixNano() >= e.until() {
		return useNone
	}
	return v
}

func (rd *reqDirectives) accept(e *respEntry, now time.Time) verdict {
	t := now.UnixNano()
	if rd == nil {
		switch {
		case t < e.fresh:
			return useFresh
		case t < e.stale:
			return useStale
		}
		return useCandidate
	}
	if rd.noCache {
		return useCandidate
	}
	if rd.maxAge >= 0 && int64(max(now.Sub(nsAt(e.created)), 0)/time.Second) > rd.maxAge {
		return useCandidate
	}
	if t < e.fresh {
		if rd.hasMinFresh && nsAt(e.fresh).Sub(now) < rd.minFresh {
			return useCandidate
		}
		return useFresh
	}
	if rd.hasMinFresh {
		return useCandidate
	}
	if t < e.stale {
		return useStale
	}
	if rd.hasMaxStale && (rd.anyStale || now.Sub(nsAt(e.fresh)) <= rd.maxStale) && !e.revalidate() {
		return useMaxStale
	}
	return useCandidate
}

// revalidate reports whether e's Cache-Control forbids a shared cache to
// serve it stale when a client asks with max-stale.
func (e *respEntry) revalidate() bool {
	for _, h := range e.header {
		if h.name == "Cache-Control" {
			cc := parseCacheControl(h.values)
			return cc.mustRevalidate || cc.hasSMaxAge
		}
	}
	return false
}

// fwdFor is the Cache-Status fwd value for a request forwarded although e,
// a candidate, was stored: "request" when e was fresh (the request's
// directives refused it), "stale" otherwise.
func fwdFor(e *respEntry, now time.Time) string {
	if now.UnixNano() < e.fresh {
		return "request"
	}
	return "stale"
}

// serveOnlyIfCached answers a request that said only-if-cached and found
// nothing usable in the in-process tier: from KV when it holds a response
// the request accepts, else with 504 Gateway Timeout (RFC 9111 §5.2.1.7).
// The handler is never called. The KV read counts against
// MaxMissesPerPath; past it the answer is 504 at once.
func (c *ResponseCache) serveOnlyIfCached(w http.ResponseWriter, r *http.Request, base string, marker *respEntry, mode forwardMode, auth, cookie bool) error {
	ctx := r.Context()
	if c.admitMiss(base) {
		e, key, _ := c.lookupKV(ctx, base, r.Header, marker)
		now := c.now()
		if e != nil && !e.marker && c.usable(ctx, e, auth, cookie) {
			switch mode.rd.judge(e, now) {
			case useFresh:
				c.remember(key, e, now)
				c.writeHit(w, r, e, now, false)
				return nil
			case useStale:
				c.remember(key, e, now)
				c.writeHit(w, r, e, now, true)
				return nil
			case useMaxStale:
				c.remember(key, e, now)
				c.writeHitAs(w, r, e, now, "max-stale")
				return nil
			}
		}
	}
	h := w.Header()
	h["Cache-Status"] = []string{c.o.Name + "; detail=only-if-cached"}
	if c.o.XCache {
		h["X-Cache"] = c.xMiss
	}
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h["Content-Length"] = []string{strconv.Itoa(len(onlyIfCachedBody))}
	w.WriteHeader(http.StatusGatewayTimeout)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, onlyIfCachedBody)
	}
	return nil
}

const onlyIfCachedBody = "not cached (only-if-cached)\n"
