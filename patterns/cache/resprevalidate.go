package cache

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Revalidation (RFC 9111 §4.3). A stale entry that carries a validator of
// the handler's own (its ETag, not the body hash the cache adds, or its
// Last-Modified) is kept past its stale windows for KeepStale, and is
// refreshed with a conditional request: the handler is called with
// If-None-Match and If-Modified-Since set to the entry's validators (the
// client's own conditional headers are replaced, never passed on: the
// handler's 304 answers the cache, not the client). This is what both a
// miss that found such an entry and a stale-while-revalidate background
// refresh do.
//
// A 304 renews the entry without the body going through the handler
// again: its headers replace the stored ones (§4.3.4; Content-Length,
// Content-Encoding, Content-Range and Transfer-Encoding excepted, since the
// stored body depends on them), its freshness is computed anew, and the
// entry is stored with the body it already had. In KV that is one Put of
// the whole entry, stored body included: KV has no partial update, bills a
// write by the operation and not by its size, and keeping the headers in a
// record of their own would cost a second KV read on every lookup, for all
// traffic, to save the upload of bytes the cache already holds on the rare
// revalidation. The client gets the stored body (or a 304 when its own
// conditional matches the renewed entry) with Cache-Status fwd=stale;
// fwd-status=304. Any other answer is handled as on a plain miss: a 200
// replaces the entry.

// until is when e leaves both tiers.
func (e *respEntry) until() int64 {
	return addNs(e.errUntil, e.keepFor)
}

// originValidators returns the validators of e that the handler made: its
// ETag unless the cache made it, and its Last-Modified (empty when absent).
func (e *respEntry) originValidators() (etag, lastMod string) {
	for _, h := range e.header {
		switch {
		case h.name == "Etag" && !e.madeETag && len(h.values) > 0:
			etag = h.values[0]
		case h.name == "Last-Modified" && len(h.values) > 0:
			lastMod = h.values[0]
		}
	}
	return etag, lastMod
}

// setKeep sets how long a 2xx entry with a validator of the handler's is
// kept for revalidation past its stale windows.
func (c *ResponseCache) setKeep(e *respEntry) {
	if e.marker || c.o.KeepStale < 0 || e.status < 200 || e.status > 299 {
		return
	}
	if etag, lm := e.originValidators(); etag == "" && lm == "" {
		return
	}
	d := c.o.KeepStale
	if d == 0 {
		d = nsAt(e.fresh).Sub(nsAt(e.created))
	}
	e.keepFor = d
}

// revalidates reports whether a forwarded request for r, with cand its
// stale entry, is sent as a conditional request on cand's validators: when
// the response may be stored for everyone (so no Authorization and no
// personal cookie: their refresh could not be shared) and cand has a
// validator of the handler's.
func (c *ResponseCache) revalidates(r *http.Request, cand *respEntry, mode forwardMode) bool {
	if cand == nil || !mode.store || cand.status < 200 || cand.status > 299 ||
		len(r.Header["Authorization"]) > 0 || c.personalCookie(r.Header) {
		return false
	}
	etag, lm := cand.originValidators()
	return etag != "" || lm != ""
}

// conditional returns a shallow copy of r whose If-None-Match and
// If-Modified-Since are cand's validators, whatever the client sent.
func conditional(r *http.Request, cand *respEntry) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	r2.Header = r.Header.Clone()
	delete(r2.Header, "If-None-Match")
	delete(r2.Header, "If-Modified-Since")
	etag, lm := cand.originValidators()
	if etag != "" {
		r2.Header["If-None-Match"] = []string{etag}
	}
	if lm != "" {
		r2.Header["If-Modified-Since"] = []string{lm}
	}
	return r2
}

// notOn304 are the headers of a 304 that do not replace stored ones
// (RFC 9111 §3.2, §4.3.4): the stored body depends on them.
var notOn304 = map[string]bool{
	"Content-Length": true, "Content-Encoding": true, "Content-Range": true, "Transfer-Encoding": true,
}

// revalWriter is what the handler writes to during a revalidation: a 304
// is kept from the client (it answers the cache's conditional), anything
// else goes to the capture as on a miss.
type revalWriter struct {
	cw     *capture
	got304 bool
}

func (rw *revalWriter) Header() http.Header { return rw.cw.Header() }

func (rw *revalWriter) WriteHeader(code int) {
	switch {
	case rw.got304:
	case code == http.StatusNotModified && !rw.cw.wrote:
		rw.got304 = true
	default:
		rw.cw.WriteHeader(code)
	}
}

func (rw *revalWriter) Write(p []byte) (int, error) {
	if rw.got304 {
		return len(p), nil // a 304 has no body
	}
	return rw.cw.Write(p)
}

// Flush implements http.Flusher.
func (rw *revalWriter) Flush() {
	if !rw.got304 {
		rw.cw.Flush()
	}
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (rw *revalWriter) Unwrap() http.ResponseWriter { return rw.cw.w }

// take304 returns the headers the handler set on its 304 (not those set
// outside the cache), and takes them off the response being built.
func (cw *capture) take304() http.Header {
	got := http.Header{}
	for k, v := range cw.h {
		if b, outer := cw.before[k]; outer && slices.Equal(b, v) {
			continue
		}
		got[k] = v
		if b, outer := cw.before[k]; outer {
			cw.h[k] = b
		} else {
			delete(cw.h, k)
		}
	}
	return got
}

// revalidate forwards r as a conditional request on cand's validators
// (see revalidates). w is nil for a background refresh. It reports
// whether the response, renewed or replaced, was stored, and returns
// next's error as forward does.
func (c *ResponseCache) revalidate(w http.ResponseWriter, r *http.Request, next Origin, base string, marker *respEntry, mode forwardMode, onStored func(), cand *respEntry) (bool, error) {
	c.stats.misses.Add(1)
	// The capture keeps the client's request: a stale response served in
	// place of an error answers the client's own conditional, not ours.
	cw := c.newCapture(w, r, mode)
	rw := &revalWriter{cw: cw}
	err := next(rw, conditional(r, cand))
	if !rw.got304 || err != nil {
		stored := cw.finish(err, func(e *respEntry) { c.store(r, base, marker, e, onStored) })
		if cw.servedStale {
			err = nil // the stale response answered in place of the error
		}
		return stored, err
	}
	h := cw.take304()
	e, detail := c.renew(r, cand, h, cw)
	if e == nil {
		// The 304 names another representation than the stored one
		// (§4.3.4): ask again, unconditionally.
		cw := c.newCapture(w, r, mode)
		err := next(cw, r)
		stored := cw.finish(err, func(e *respEntry) { c.store(r, base, marker, e, onStored) })
		if cw.servedStale {
			err = nil
		}
		return stored, err
	}
	c.stats.revalidated.Add(1)
	if detail == "" {
		c.store(r, base, marker, e, onStored)
	}
	if w != nil {
		c.writeRenewed(w, r, e, detail)
	}
	return detail == "", nil
}

// renew returns cand updated by the handler's 304 with headers h: nil when
// h's validators do not match cand's; with a detail when the updated
// response may not be stored (it is then served once, not stored).
func (c *ResponseCache) renew(r *http.Request, cand *respEntry, h http.Header, cw *capture) (*respEntry, string) {
	etag, lm := cand.originValidators()
	if v := h.Get("Etag"); v != "" && etag != "" && !weakEqual(v, etag) {
		return nil, ""
	}
	if v := h.Get("Last-Modified"); etag == "" && v != "" && lm != "" && v != lm {
		return nil, ""
	}
	tags := cand.tags
	if tv := h[c.o.TagHeader]; len(tv) > 0 {
		tags = nil
		for _, v := range tv {
			tags = append(tags, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })...)
		}
		slices.Sort(tags)
		tags = slices.Compact(tags)
		delete(h, c.o.TagHeader)
	}
	merged := make(http.Header, len(cand.header)+len(h))
	for _, sh := range cand.header {
		merged[sh.name] = sh.values
	}
	for k, v := range h {
		if !notOn304[k] {
			merged[k] = v
		}
	}
	e, detail := c.plan(r, int(cand.status), merged, nil, cw.mark, cw.mode, tags, cw.gen)
	if e == nil {
		return cand, detail
	}
	e.madeETag = cand.madeETag && len(h["Etag"]) == 0
	e.body = cand.body
	return e, ""
}

// writeRenewed answers r with e, just renewed by a 304 of the handler: the
// stored body, or a 304 when r's own conditional matches e.
func (c *ResponseCache) writeRenewed(w http.ResponseWriter, r *http.Request, e *respEntry, detail string) {
	now := c.now()
	h := w.Header()
	st := c.o.Name + "; fwd=stale; fwd-status=304"
	if detail != "" {
		st += "; detail=" + detail
	}
	notModified := c.notModified(r, e)
	for _, sh := range e.header {
		if !notModified || notModifiedHeaders[sh.name] {
			h[sh.name] = sh.values[:len(sh.values):len(sh.values)]
		}
	}
	h["Age"] = []string{strconv.FormatInt(int64(max(now.Sub(nsAt(e.created)), 0)/time.Second), 10)}
	h["Cache-Status"] = []string{st}
	if c.o.XCache {
		h["X-Cache"] = []string{"REVALIDATED"}
	}
	if notModified {
		h["Date"] = []string{now.UTC().Format(http.TimeFormat)}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if bodyAllowed(int(e.status)) {
		h["Content-Length"] = lengthValue(len(e.body))[:1:1]
	}
	w.WriteHeader(int(e.status))
	if r.Method != http.MethodHead && bodyAllowed(int(e.status)) {
		_, _ = w.Write(e.body)
	}
}

// refresh is a background refresh of the entry cand (nil when it is gone
// from the local tier) of base: a revalidation when cand allows one, else
// a plain call of next. It returns why nothing was stored, or nil.
func (c *ResponseCache) refresh(r *http.Request, next Origin, base string, marker, cand *respEntry) error {
	mode := forwardMode{store: true, fwd: "stale"}
	if c.revalidates(r, cand, mode) {
		stored, err := c.revalidate(nil, r, next, base, marker, mode, nil, cand)
		if !stored && err == nil {
			err = fmt.Errorf("revalidated response not storable")
		}
		return err
	}
	cw := c.newCapture(nil, r, mode)
	err := next(cw, r)
	if stored := cw.finish(err, func(e *respEntry) { c.store(r, base, marker, e, nil) }); !stored && err == nil {
		err = fmt.Errorf("response not storable: %s", cw.detail)
	}
	return err
}
