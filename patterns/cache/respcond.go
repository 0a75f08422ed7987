package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// bodyETag is the strong ETag of body: 128 bits of its SHA-256. It is made
// once, when the response is stored.
func bodyETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// validators returns e's ETag and Last-Modified as stored (empty when
// absent).
func (e *respEntry) validators() (etag string, lastMod time.Time, hasLM bool) {
	for _, h := range e.header {
		switch h.name {
		case "Etag":
			if len(h.values) > 0 {
				etag = h.values[0]
			}
		case "Last-Modified":
			if len(h.values) > 0 {
				if t, err := http.ParseTime(h.values[0]); err == nil {
					lastMod, hasLM = t, true
				}
			}
		}
	}
	return etag, lastMod, hasLM
}

// notModified evaluates r's If-None-Match and If-Modified-Since against e
// (RFC 9110 §13.1.2, §13.1.3, precedence of §13.2.2): If-None-Match, when
// present, decides alone, by weak comparison; If-Modified-Since counts
// only for GET and HEAD, and a malformed date is ignored. Only a 2xx entry
// can be not modified.
func (c *ResponseCache) notModified(r *http.Request, e *respEntry) bool {
	inm := r.Header["If-None-Match"]
	ims := r.Header["If-Modified-Since"]
	if (len(inm) == 0 && len(ims) == 0) || e.status < 200 || e.status > 299 {
		return false
	}
	etag, lastMod, hasLM := e.validators()
	if len(inm) > 0 {
		return etagListMatch(inm, etag)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	t, err := http.ParseTime(ims[0])
	if err != nil {
		return false
	}
	if !hasLM {
		lastMod = nsAt(e.created) // RFC 9111 §4.3.2: the time it was stored
	}
	return !lastMod.Truncate(time.Second).After(t)
}

// etagListMatch reports whether the If-None-Match values match etag by
// weak comparison; "*" matches any stored representation. Malformed
// members match nothing.
func etagListMatch(values []string, etag string) bool {
	for _, v := range values {
		for m := range strings.SplitSeq(v, ",") {
			m = strings.TrimSpace(m)
			if m == "*" {
				return true
			}
			if etag != "" && validETag(m) && weakEqual(m, etag) {
				return true
			}
		}
	}
	return false
}

func validETag(t string) bool {
	t = strings.TrimPrefix(t, "W/")
	return len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' && !strings.ContainsRune(t[1:len(t)-1], '"')
}

func weakEqual(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// notModifiedHeaders are the stored headers a 304 carries (RFC 9110
// §15.4.5), plus Last-Modified.
var notModifiedHeaders = map[string]bool{
	"Cache-Control": true, "Content-Location": true, "Etag": true, "Expires": true, "Vary": true, "Last-Modified": true,
}

// write304 answers r with 304 Not Modified from e: the headers of
// §15.4.5, Date, Age and Cache-Status, no body.
func (c *ResponseCache) write304(w http.ResponseWriter, e *respEntry, now time.Time, detail string) {
	h := w.Header()
	for _, sh := range e.header {
		if notModifiedHeaders[sh.name] {
			h[sh.name] = sh.values[:len(sh.values):len(sh.values)]
		}
	}
	hh := c.hitHeaders(e, now)
	h["Date"] = hh.date[:1:1]
	c.setHitStatus(h, hh, detail)
	w.WriteHeader(http.StatusNotModified)
}

// statusWriter records the status a handler answers with.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 && code >= 200 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// serveUnsafe passes a request of any method but GET and HEAD to next and,
// for POST, PUT, PATCH and DELETE answered 2xx or 3xx without an error,
// purges the stored GET of its URL and of the same-origin URLs in the
// response's Location and Content-Location (RFC 9111 §4.4). A 4xx or 5xx
// changed nothing and purges nothing.
func (c *ResponseCache) serveUnsafe(w http.ResponseWriter, r *http.Request, next Origin) error {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return next(w, r)
	}
	if c.o.KeepOnWrite {
		return next(w, r)
	}
	sw := &statusWriter{ResponseWriter: w}
	err := next(sw, r)
	code := sw.code
	if code == 0 && err == nil {
		code = http.StatusOK
	}
	if err != nil || code < 200 || code > 399 {
		return err
	}
	scheme, _ := requestScheme(r)
	self := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	targets := []*url.URL{self}
	for _, name := range [...]string{"Location", "Content-Location"} {
		v := w.Header().Get(name)
		if v == "" {
			continue
		}
		u, perr := self.Parse(v)
		if perr != nil || !strings.EqualFold(u.Host, r.Host) {
			continue // malformed or another origin: not ours to purge
		}
		targets = append(targets, u)
	}
	ctx := context.WithoutCancel(r.Context())
	for _, u := range targets {
		if perr := c.PurgeURL(ctx, u.String()); perr != nil {
			c.stats.kvErrors.Add(1)
			c.log.error("kv-delete", "cache: purge after a write failed", perr, u.String())
		}
	}
	return nil
}
