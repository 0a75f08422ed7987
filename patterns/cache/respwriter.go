package cache

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvkit/kvkit/internal/reqmark"
)

// forwardMode says how a forwarded request may be stored.
type forwardMode struct {
	store     bool           // false: serve only
	reason    string         // Cache-Status detail when !store
	fwd       string         // Cache-Status fwd: "miss" or "stale"
	candidate *respEntry     // stale entry to serve on a 5xx or handler error
	rd        *reqDirectives // the request's Cache-Control directives; nil: none
}

// capture is the writer the handler sees on a miss. A response that may be
// stored (or replaced by a stale one) is held in memory until the handler
// returns, so that Content-Length can be set and the decision to store is
// made on the header as it finally leaves (after the layers outside the
// cache added theirs, a session cookie included); it is sent at once when
// it outgrows MaxBodySize or the handler flushes, and is then not stored.
// Other responses go straight through.
type capture struct {
	c      *ResponseCache
	w      http.ResponseWriter // nil for a background refresh
	h      http.Header
	r      *http.Request
	mode   forwardMode
	before map[string][]string // headers set before the handler ran (not its own)
	mark   *reqmark.Mark       // the request's: set when the response became personal

	status      int
	wrote       bool // WriteHeader happened
	committed   bool // the header went downstream
	hold        bool
	buf         []byte
	plan        *respEntry // what will be stored; nil when it will not
	detail      string     // why it will not be stored
	servedStale bool
	gen         int64 // taken before the handler runs: a purge made while it runs wins
}

func (c *ResponseCache) newCapture(w http.ResponseWriter, r *http.Request, mode forwardMode) *capture {
	cw := &capture{c: c, w: w, r: r, mode: mode, mark: reqmark.From(r.Context())}
	if mode.store {
		cw.gen = c.nextGen()
	}
	if w != nil {
		cw.h = w.Header()
		if len(cw.h) > 0 {
			cw.before = make(map[string][]string, len(cw.h))
			for k, v := range cw.h {
				cw.before[k] = slices.Clone(v)
			}
		}
	} else {
		cw.h = http.Header{}
	}
	return cw
}

// Header implements http.ResponseWriter.
func (cw *capture) Header() http.Header { return cw.h }

// Unwrap returns the underlying writer, for http.ResponseController.
func (cw *capture) Unwrap() http.ResponseWriter { return cw.w }

// WriteHeader implements http.ResponseWriter.
func (cw *capture) WriteHeader(code int) {
	if cw.wrote {
		return
	}
	if code < 200 { // informational: pass it on, it is not the response
		if cw.w != nil {
			cw.w.WriteHeader(code)
		}
		return
	}
	cw.wrote, cw.status = true, code
	var tags []string
	if tv := cw.h[cw.c.o.TagHeader]; len(tv) > 0 {
		for _, v := range tv {
			tags = append(tags, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })...)
		}
		slices.Sort(tags)
		tags = slices.Compact(tags)
		delete(cw.h, cw.c.o.TagHeader)
	}
	cw.plan, cw.detail = cw.c.plan(cw.r, code, cw.h, cw.before, cw.mark, cw.mode, tags, cw.gen)
	cw.hold = cw.plan != nil || (cw.mode.candidate != nil && code >= 500)
	if !cw.hold {
		cw.commit(false)
	}
}

// Write implements http.ResponseWriter.
func (cw *capture) Write(p []byte) (int, error) {
	if !cw.wrote {
		cw.WriteHeader(http.StatusOK)
	}
	if cw.hold {
		if len(cw.buf)+len(p) <= cw.c.o.MaxBodySize {
			cw.buf = append(cw.buf, p...)
			return len(p), nil
		}
		cw.plan, cw.detail = nil, "too-large"
		cw.commit(false)
	}
	if cw.w == nil {
		return len(p), nil
	}
	return cw.w.Write(p)
}

// Flush implements http.Flusher: a streamed response is sent as it comes
// and not stored.
func (cw *capture) Flush() {
	if !cw.wrote {
		cw.WriteHeader(http.StatusOK)
	}
	if cw.hold {
		cw.plan, cw.detail = nil, "streamed"
		cw.commit(false)
	}
	if cw.w != nil {
		_ = http.NewResponseController(cw.w).Flush()
	}
}

// commit sends the header and what is held. complete says the held body is
// the whole body (so Content-Length can be set).
func (cw *capture) commit(complete bool) {
	cw.sendHeader(complete)
	cw.sendBody()
	cw.buf = nil
}

// sendHeader sends the header, with Cache-Status. The status never says
// "stored" (RFC 9211): the response is stored only once the header has
// left, and written to KV later still.
func (cw *capture) sendHeader(complete bool) {
	if cw.committed {
		return
	}
	cw.committed, cw.hold = true, false
	if cw.w == nil {
		return
	}
	o := &cw.c.o
	st := o.Name + "; fwd=" + cw.mode.fwd
	if cw.mode.fwd == "stale" || cw.status >= 500 {
		st += "; fwd-status=" + strconv.Itoa(cw.status)
	}
	if cw.detail != "" {
		st += "; detail=" + cw.detail
	}
	cw.h["Cache-Status"] = []string{st}
	if o.XCache {
		cw.h["X-Cache"] = cw.c.xMiss
	}
	if complete && bodyAllowed(cw.status) && len(cw.h["Content-Length"]) == 0 && len(cw.h["Transfer-Encoding"]) == 0 {
		cw.h["Content-Length"] = []string{strconv.Itoa(len(cw.buf))}
	}
	cw.w.WriteHeader(cw.status)
}

// sendBody sends what is held.
func (cw *capture) sendBody() {
	if cw.w != nil && len(cw.buf) > 0 {
		_, _ = cw.w.Write(cw.buf)
	}
}

// finish ends a forwarded response after the handler returned err: it
// serves a stale entry in place of a 5xx or an error when it may, else
// sends what is held and, when the response as it left may be stored,
// stores it through store before sending the body. It reports whether the
// response was stored.
func (cw *capture) finish(err error, store func(*respEntry)) bool {
	if !cw.wrote {
		if err != nil {
			if cw.serveStale() {
				return false
			}
			return false // nothing written: the caller's error handler answers
		}
		cw.WriteHeader(http.StatusOK) // an empty 200, as net/http would send
	}
	if !cw.hold {
		return false
	}
	if (err != nil || cw.status >= 500) && cw.serveStale() {
		return false
	}
	if err == nil && cw.plan != nil && cw.mark.Personal() {
		cw.plan, cw.detail = nil, "personal" // the handler read or changed the session
	}
	if err != nil || cw.plan == nil {
		if cw.detail == "" {
			cw.detail = "error"
		}
		cw.plan = nil
		cw.commit(true)
		return false
	}
	if cw.status == http.StatusOK && !cw.c.o.NoETag && len(cw.h["Etag"]) == 0 && !cw.refusedOnTheWayOut() {
		tag := []string{bodyETag(cw.buf)}
		cw.h["Etag"] = tag
		cw.plan.header = append(cw.plan.header, storedHeader{"Etag", tag})
		cw.plan.madeETag = true
		slices.SortFunc(cw.plan.header, func(a, b storedHeader) int { return strings.Compare(a.name, b.name) })
	}
	cw.sendHeader(true)
	if cw.refusedOnTheWayOut() {
		cw.sendBody()
		cw.buf = nil
		return false
	}
	e := cw.plan
	if cap(cw.buf)-len(cw.buf) > len(cw.buf)/4+512 {
		cw.buf = slices.Clone(cw.buf) // do not keep a grown buffer's slack in memory
	}
	e.body = cw.buf
	store(e)
	cw.sendBody()
	return true
}

// refusedOnTheWayOut reports whether the response, as it left (the layers
// outside the cache write their headers as the header passes them), or the
// request, now forbids storing it: a Set-Cookie (the session middleware's,
// say), Cache-Control no-store, private or no-cache, or a session read
// while the header went out.
func (cw *capture) refusedOnTheWayOut() bool {
	if cw.mark.Personal() {
		return true
	}
	if cw.w == nil {
		return false
	}
	if len(cw.h["Set-Cookie"]) > 0 {
		return true
	}
	cc := parseCacheControl(cw.h["Cache-Control"])
	return cc.noStore || cc.private || cc.noCache
}

// serveStale answers with the stale candidate (stale-if-error).
func (cw *capture) serveStale() bool {
	e := cw.mode.candidate
	if e == nil || cw.committed {
		return false
	}
	now := cw.c.now()
	if now.UnixNano() >= e.errUntil {
		return false
	}
	cw.committed, cw.hold, cw.buf, cw.servedStale = true, false, nil, true
	if cw.w == nil {
		return true
	}
	status := cw.status
	for k := range cw.h { // drop what the failed handler set
		if _, outer := cw.before[k]; !outer {
			delete(cw.h, k)
		}
	}
	st := cw.c.o.Name + "; fwd=stale"
	if status != 0 {
		st += "; fwd-status=" + strconv.Itoa(status)
	}
	// The Cache-Status must be in place before the header leaves: a real
	// server sends it at WriteHeader, not when the handler returns.
	cw.c.writeHit(statusOverride{cw.w, []string{st + "; detail=stale-if-error"}}, cw.r, e, now, true)
	return true
}

// statusOverride replaces the Cache-Status a hit sets with its own as the
// header is written.
type statusOverride struct {
	http.ResponseWriter
	status []string
}

func (s statusOverride) WriteHeader(code int) {
	s.Header()["Cache-Status"] = s.status
	s.ResponseWriter.WriteHeader(code)
}

// plan decides, when the handler writes its header, whether the response
// may be stored (RFC 9111 §3 for a shared cache), and how long it is fresh.
func (c *ResponseCache) plan(r *http.Request, code int, h http.Header, before map[string][]string, mark *reqmark.Mark, mode forwardMode, tags []string, gen int64) (*respEntry, string) {
	if !mode.store {
		return nil, mode.reason
	}
	if !c.statuses[code] {
		return nil, "status"
	}
	cc := parseCacheControl(h["Cache-Control"])
	auth := len(r.Header["Authorization"]) > 0
	vary, star := parseVary(h["Vary"])
	switch {
	case cc.noStore:
		return nil, "no-store"
	case cc.private:
		return nil, "private"
	case cc.noCache:
		return nil, "no-cache"
	case len(h["Set-Cookie"]) > 0:
		return nil, "set-cookie"
	case mark.Personal():
		return nil, "personal"
	case auth && !cc.public && !cc.hasSMaxAge && !cc.mustRevalidate:
		return nil, "authorization"
	case !cc.public && !cc.hasSMaxAge && c.personalCookie(r.Header):
		return nil, "cookie"
	case star:
		return nil, "vary-star"
	}
	if ao := h.Get("Access-Control-Allow-Origin"); ao != "" && ao != "*" && !slices.Contains(vary, "Origin") {
		if _, outer := before["Access-Control-Allow-Origin"]; !outer {
			return nil, "cors"
		}
	}
	now := c.now()
	ttl := c.o.TTL
	switch {
	case cc.hasSMaxAge:
		ttl = cc.sMaxAge
	case cc.hasMaxAge:
		ttl = cc.maxAge
	case h.Get("Expires") != "":
		exp, err := http.ParseTime(h.Get("Expires"))
		if err != nil {
			return nil, "expires"
		}
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		ttl = exp.Sub(base)
	}
	ttl = min(ttl, c.o.MaxTTL)
	if ttl < time.Second {
		return nil, "expired"
	}
	if c.o.Jitter > 0 {
		ttl = max(ttl-time.Duration(rand.Float64()*c.o.Jitter*float64(ttl)), time.Second)
	}
	swr, sie := c.o.StaleWhileRevalidate, c.o.StaleIfError
	if cc.hasSWR {
		swr = cc.swr
	}
	if cc.hasSIE {
		sie = cc.sie
	}
	if cc.mustRevalidate {
		swr, sie = 0, 0
	}
	e := &respEntry{
		status: int16(code), tags: tags, created: now.UnixNano(),
		authOK:   cc.public || cc.hasSMaxAge || cc.mustRevalidate,
		cookieOK: cc.public || cc.hasSMaxAge,
		fresh:    addNs(now.UnixNano(), ttl),
	}
	e.setVary(vary, "")
	e.stale = addNs(e.fresh, swr)
	e.errUntil = addNs(e.stale, sie)
	e.gen = gen
	for _, t := range tags {
		if g, ok := c.tagGens.Get(t); ok && g >= e.gen {
			e.gen = g + 1
		}
	}
	connHeaders := map[string]bool{}
	for _, v := range h["Connection"] {
		for n := range strings.SplitSeq(v, ",") {
			connHeaders[http.CanonicalHeaderKey(strings.TrimSpace(n))] = true
		}
	}
	for k, v := range h {
		if hopByHop[k] || connHeaders[k] || len(v) == 0 {
			continue
		}
		if b, outer := before[k]; outer && slices.Equal(b, v) {
			continue // set by a middleware outside the cache, for this request only
		}
		if mark.IsPerClient(k) {
			continue // set for this client by a middleware inside (a rate limit's quota)
		}
		e.header = append(e.header, storedHeader{k, shareValues(k, v)})
	}
	slices.SortFunc(e.header, func(a, b storedHeader) int { return strings.Compare(a.name, b.name) })
	return e, ""
}
