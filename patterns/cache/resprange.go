package cache

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRanges is the most ranges one request may ask for; a request asking
// for more gets the whole response (RFC 9110 §14.2 lets a server ignore
// a Range header, and many small ranges are a denial-of-service pattern).
const maxRanges = 64

// byteRange is one satisfiable range: first and last byte, inclusive.
type byteRange struct{ first, last int64 }

// parseByteRanges parses a Range header value (RFC 9110 §14.1.2) against
// a representation of size bytes. ok is false when the header is to be
// ignored: another range unit, bad syntax, an empty set, or a range whose
// last position is before its first. Unsatisfiable ranges (a first
// position at or past size, a zero suffix) are dropped, so ok with no
// ranges means 416.
func parseByteRanges(v string, size int64) (ranges []byteRange, ok bool) {
	unit, set, found := strings.Cut(v, "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return nil, false
	}
	n := 0
	for spec := range strings.SplitSeq(set, ",") {
		spec = strings.Trim(spec, " \t")
		if spec == "" {
			continue // lists allow empty elements (RFC 9110 §5.6.1)
		}
		if n++; n > maxRanges {
			return nil, false
		}
		a, b, found := strings.Cut(spec, "-")
		if !found {
			return nil, false
		}
		if a == "" { // suffix-range: the last b bytes
			suffix, ok := digits(b)
			if !ok {
				return nil, false
			}
			if suffix > 0 && size > 0 {
				ranges = append(ranges, byteRange{max(size-suffix, 0), size - 1})
			}
			continue
		}
		first, ok := digits(a)
		if !ok {
			return nil, false
		}
		last := int64(-1)
		if b != "" {
			if last, ok = digits(b); !ok || last < first {
				return nil, false
			}
		}
		if first >= size {
			continue // unsatisfiable
		}
		if last < 0 || last >= size {
			last = size - 1
		}
		ranges = append(ranges, byteRange{first, last})
	}
	if n == 0 {
		return nil, false
	}
	return ranges, true
}

// digits parses 1*DIGIT, saturating at 2^62 (past any body's size).
func digits(s string) (int64, bool) { return digitsUpTo(s, 1<<62) }

// digitsUpTo parses 1*DIGIT as a decimal number, saturating at limit
// (at most 2^62, so that the arithmetic cannot overflow).
func digitsUpTo(s string, limit int64) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := int64(s[i]) - '0'
		if d < 0 || d > 9 {
			return 0, false
		}
		if n <= (limit-d)/10 {
			n = n*10 + d
		} else {
			n = limit
		}
	}
	return n, true
}

// ifRangeHolds evaluates If-Range (RFC 9110 §13.1.5) against e: an entity
// tag must match e's ETag by strong comparison (a weak tag never does);
// a date must equal e's Last-Modified exactly, and that Last-Modified
// must be strong, at least a second before the response was stored (the
// cache does not keep the origin's Date). Anything else fails, and the
// Range is then ignored. No If-Range holds.
func ifRangeHolds(r *http.Request, e *respEntry) bool {
	ir := r.Header["If-Range"]
	if len(ir) == 0 {
		return true
	}
	if len(ir) > 1 {
		return false
	}
	v := strings.TrimSpace(ir[0])
	etag, lastMod, hasLM := e.validators()
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		return validETag(v) && !strings.HasPrefix(v, "W/") && !strings.HasPrefix(etag, "W/") && v == etag
	}
	t, err := http.ParseTime(v)
	if err != nil || !hasLM {
		return false
	}
	return t.Equal(lastMod) && !lastMod.After(nsAt(e.created).Add(-time.Second))
}

// writeRange answers a GET that carries Range from e, a stored 200, and
// reports whether it did; false leaves the whole response to the caller
// (no Range, an If-Range that fails, a Range to ignore). The status and
// header of the hit (Age, Cache-Status) are already in w's header. 206
// responses, single or multipart/byteranges, are written by
// http.ServeContent over the stored body, given only the normalised Range:
// the cache has evaluated If-None-Match and If-Modified-Since (304) and
// If-Range itself, so net/http does not evaluate them again (it would
// compare If-None-Match by its own, laxer parse, and take a date If-Range
// against a Last-Modified that may be weak). Unsatisfiable ranges get 416
// with Content-Range: bytes */size, written here (net/http answers 200 for
// an empty body and 206 with nothing in it for the suffix "-0").
func (c *ResponseCache) writeRange(w http.ResponseWriter, r *http.Request, e *respEntry) bool {
	rv := r.Header["Range"]
	if len(rv) != 1 || r.Method != http.MethodGet || e.status != http.StatusOK || !ifRangeHolds(r, e) {
		return false
	}
	size := int64(len(e.body))
	ranges, ok := parseByteRanges(rv[0], size)
	if !ok {
		return false
	}
	h := w.Header()
	if len(ranges) == 0 {
		for _, sh := range e.header {
			delete(h, sh.name) // the stored header describes the whole body, not this error
		}
		h["Content-Range"] = []string{"bytes */" + strconv.FormatInt(size, 10)}
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		h["X-Content-Type-Options"] = []string{"nosniff"}
		h["Content-Length"] = []string{strconv.Itoa(len(unsatisfiableBody))}
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		_, _ = io.WriteString(w, unsatisfiableBody)
		return true
	}
	var b strings.Builder
	b.WriteString("bytes=")
	for i, br := range ranges {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(br.first, 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatInt(br.last, 10))
	}
	r2 := r.WithContext(r.Context())
	r2.Header = http.Header{"Range": {b.String()}}
	if _, typed := h["Content-Type"]; !typed && len(h["Content-Encoding"]) > 0 {
		h["Content-Type"] = nil // as net/http does for a full response: do not sniff encoded bytes
	}
	delete(h, "Content-Length")
	http.ServeContent(w, r2, "", time.Time{}, bytes.NewReader(e.body))
	return true
}

const unsatisfiableBody = "requested range not satisfiable\n"
