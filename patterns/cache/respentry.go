package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// hitHeaders are the Age and Cache-Status values of one entry for one
// second, reused by every hit in that second so a hit allocates nothing.
type hitHeaders struct {
	at                int64 // Unix second they were made for
	age, status, date []string
}

// respEntry is one stored response, or a Vary marker that names the request
// headers whose values select the stored variant.
type respEntry struct {
	// Marker fields: set when this entry is a Vary marker.
	marker bool
	nonce  string // part of every variant's key; a new marker orphans old variants

	status  int
	header  []storedHeader // in stored order
	body    []byte
	bodyLen []string // {strconv.Itoa(len(body))}, the Content-Length header
	hit     atomic.Pointer[hitHeaders]

	tags     []string
	authOK   bool     // may answer a request that carries Authorization
	cookieOK bool     // may answer a request that carries a personal cookie (public or s-maxage)
	vary     []string // canonical names of the request headers in Vary
	created  time.Time
	gen      int64 // tag generation: valid while every tag's purge generation < gen
	fresh    time.Time
	stale    time.Time // stale-while-revalidate until
	errUntil time.Time // stale-if-error until
	keep     time.Time // kept until, for revalidation (zero: until errUntil)
	madeETag bool      // the ETag header is the cache's (a body hash), not the handler's
	size     int       // bytes in KV
	retained int       // bytes of the buffer holding body (all of the KV value once decoded)
}

// entryOverhead is what an entry costs in memory besides its strings and
// body: the respEntry itself, its Age/Cache-Status values, and the local
// tier's node and bookkeeping.
const entryOverhead = 512

// memSize estimates the bytes e keeps alive: everything it holds, so that
// LocalMaxBytes bounds the heap and not only bodies.
func (e *respEntry) memSize() int {
	n := entryOverhead + len(e.nonce) + max(e.retained, cap(e.body))
	for _, h := range e.header {
		n += 40 + 8 + len(h.name) + 24 // storedHeader, name string, values slice
		for _, v := range h.values {
			n += 16 + 8 + len(v) // string header, allocation rounding, bytes
		}
	}
	for _, t := range e.tags {
		n += 24 + len(t)
	}
	for _, v := range e.vary {
		n += 24 + len(v)
	}
	return n
}

// storedHeader is one stored response header field.
type storedHeader struct {
	name   string
	values []string
}

// respMeta is the JSON part of a stored entry; the body follows it.
type respMeta struct {
	V     int                 `json:"v"`
	Nonce string              `json:"n,omitempty"`
	S     int                 `json:"s,omitempty"`
	H     map[string][]string `json:"h,omitempty"`
	Order []string            `json:"o,omitempty"`
	T     []string            `json:"t,omitempty"`
	A     bool                `json:"a,omitempty"`
	K     bool                `json:"k,omitempty"`
	Vary  []string            `json:"vy,omitempty"`
	C     int64               `json:"c"`
	G     int64               `json:"g,omitempty"`
	F     int64               `json:"f"`
	W     int64               `json:"w"`
	E     int64               `json:"e"`
	KP    int64               `json:"kp,omitempty"`
	ME    bool                `json:"me,omitempty"`
}

// encode lays an entry out as a 4-byte big-endian length, the JSON meta,
// then the body.
func (e *respEntry) encode() ([]byte, error) {
	m := respMeta{V: 1, Nonce: e.nonce, S: e.status, T: e.tags, A: e.authOK, K: e.cookieOK, Vary: e.vary,
		C: e.created.UnixMilli(), G: e.gen, F: e.fresh.UnixMilli(), W: e.stale.UnixMilli(), E: e.errUntil.UnixMilli(), ME: e.madeETag}
	if !e.keep.IsZero() {
		m.KP = e.keep.UnixMilli()
	}
	if e.marker {
		m.V = 2
	}
	if len(e.header) > 0 {
		m.H = make(map[string][]string, len(e.header))
		for _, h := range e.header {
			m.H[h.name] = h.values
			m.Order = append(m.Order, h.name)
		}
	}
	meta, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 4, 4+len(meta)+len(e.body))
	binary.BigEndian.PutUint32(out, uint32(len(meta)))
	out = append(out, meta...)
	return append(out, e.body...), nil
}

var errBadEntry = errors.New("cache: malformed stored response")

func decodeRespEntry(b []byte) (*respEntry, error) {
	if len(b) < 4 {
		return nil, errBadEntry
	}
	n := int(binary.BigEndian.Uint32(b))
	if n > len(b)-4 {
		return nil, errBadEntry
	}
	var m respMeta
	if err := json.Unmarshal(b[4:4+n], &m); err != nil || (m.V != 1 && m.V != 2) {
		return nil, errBadEntry
	}
	e := &respEntry{
		marker: m.V == 2, nonce: m.Nonce, status: m.S, tags: m.T, authOK: m.A, cookieOK: m.K, vary: m.Vary,
		created: time.UnixMilli(m.C), gen: m.G, fresh: time.UnixMilli(m.F), stale: time.UnixMilli(m.W),
		errUntil: time.UnixMilli(m.E), madeETag: m.ME, size: len(b), retained: cap(b),
	}
	if m.KP != 0 {
		e.keep = time.UnixMilli(m.KP)
	}
	if !e.marker {
		e.body = b[4+n:]
		e.bodyLen = []string{strconv.Itoa(len(e.body))}
		for _, k := range m.Order {
			if v, ok := m.H[k]; ok {
				e.header = append(e.header, storedHeader{k, v})
			}
		}
	}
	return e, nil
}

// hopByHop are the headers a cache never stores or replays (RFC 9110
// §7.6.1), plus the ones the cache writes itself.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Age": true, "Cache-Status": true, "X-Cache": true, "Content-Length": true, "Date": true,
}

// cacheControl is the part of a Cache-Control header a shared cache uses.
type cacheControl struct {
	noStore, noCache, private, public, mustRevalidate bool
	maxAge, sMaxAge, swr, sie                         time.Duration
	hasMaxAge, hasSMaxAge, hasSWR, hasSIE             bool
}

func parseCacheControl(values []string) cacheControl {
	var cc cacheControl
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			name, arg, _ := strings.Cut(d, "=")
			arg = strings.Trim(strings.TrimSpace(arg), `"`)
			secs := func() (time.Duration, bool) {
				n, err := strconv.ParseInt(arg, 10, 64)
				if err != nil || n < 0 {
					return 0, false
				}
				return time.Duration(min(n, 1<<31)) * time.Second, true
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store":
				cc.noStore = true
			case "no-cache":
				cc.noCache = true
			case "private":
				cc.private = true
			case "public":
				cc.public = true
			case "must-revalidate", "proxy-revalidate":
				cc.mustRevalidate = true
			case "max-age":
				cc.maxAge, cc.hasMaxAge = secs()
			case "s-maxage":
				cc.sMaxAge, cc.hasSMaxAge = secs()
			case "stale-while-revalidate":
				cc.swr, cc.hasSWR = secs()
			case "stale-if-error":
				cc.sie, cc.hasSIE = secs()
			}
		}
	}
	return cc
}

// parseVary returns the canonical, sorted, deduplicated names in Vary, and
// whether it contains "*".
func parseVary(values []string) (names []string, star bool) {
	for _, v := range values {
		for n := range strings.SplitSeq(v, ",") {
			n = strings.TrimSpace(n)
			switch n {
			case "":
			case "*":
				star = true
			default:
				names = append(names, textproto.CanonicalMIMEHeaderKey(n))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), star
}

// appendKey appends path + "?" + the query with its parameters sorted by
// name (stable: repeated names keep their order, raw encoding is kept) to
// b. Empty parameters are dropped.
func appendKey(b []byte, path, q string) []byte {
	b = append(b, path...)
	if q == "" {
		return b
	}
	var arr [16]string
	parts := arr[:0]
	for q != "" {
		var p string
		if i := strings.IndexByte(q, '&'); i >= 0 {
			p, q = q[:i], q[i+1:]
		} else {
			p, q = q, ""
		}
		if p == "" {
			continue
		}
		// Insertion sort by name: queries are short.
		parts = append(parts, p)
		for j := len(parts) - 1; j > 0 && queryName(parts[j]) < queryName(parts[j-1]); j-- {
			parts[j], parts[j-1] = parts[j-1], parts[j]
		}
	}
	for i, p := range parts {
		if i == 0 {
			b = append(b, '?')
		} else {
			b = append(b, '&')
		}
		b = append(b, p...)
	}
	return b
}

func queryName(p string) string {
	if i := strings.IndexByte(p, '='); i >= 0 {
		return p[:i]
	}
	return p
}

// kvKeyFor maps a cache key to a KV key: prefix+key when it is a valid KV
// key (printable, valid UTF-8: a raw query may carry any byte), else
// prefix+"#"+sha256(key).
func kvKeyFor(prefix, key string) string {
	if k := prefix + key; len(k) <= 512 && key != "" && k != "." && k != ".." && printable(key) && utf8.ValidString(k) {
		return k
	}
	sum := sha256.Sum256([]byte(key))
	return prefix + "#" + hex.EncodeToString(sum[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// variantKey is the key of the variant of base that r selects under marker m.
func variantKey(base string, m *respEntry, h http.Header) string {
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("\x00")
	b.WriteString(m.nonce)
	for _, name := range m.vary {
		b.WriteString("\x00")
		b.WriteString(strings.Join(h.Values(name), ","))
	}
	return b.String()
}

// cacheableStatus are the heuristically cacheable status codes (RFC 9110
// §15.1), the default of ResponseOptions.Statuses.
var cacheableStatus = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}
