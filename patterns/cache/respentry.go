package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"
)

// hitHeaders are the Age, Cache-Status and Date values of a hit. They
// depend only on the second of the hit, the entry's age and its freshness
// left, so entries stored in the same second share them: they are kept in
// a small table (hitTable), not in the entries, and a hit allocates nothing
// once its values are in the table.
type hitHeaders struct {
	at                int64  // Unix second they were made for
	ageN, ttlN        int64  // the Age and ttl they say
	name              string // the cache's name, in Cache-Status
	age, status, date []string
}

// hitTable holds recent hitHeaders, direct-mapped by age and ttl: a slot
// is reused when its second, age, ttl and cache name match, else replaced.
// Shared by every ResponseCache of the process (the name tells them apart).
var hitTable [512]atomic.Pointer[hitHeaders]

// dateNow is the Date value of the current second, shared by every hit in
// it.
var dateNow atomic.Pointer[hitHeaders]

// hitHeaders returns e's Age, Cache-Status and Date values at now.
func (c *ResponseCache) hitHeaders(e *respEntry, now time.Time) *hitHeaders {
	sec := now.Unix()
	age := int64(max(now.Sub(nsAt(e.created)), 0) / time.Second)
	// Whole seconds of freshness left, rounded up (a response stored this
	// instant shows its full TTL); negative (rounded down) when stale.
	ttl := nsAt(e.fresh).Sub(now)
	secs := int64(ttl / time.Second)
	if ttl%time.Second > 0 {
		secs++
	} else if ttl%time.Second < 0 {
		secs--
	}
	slot := &hitTable[uint64(age*1_000_003+secs)%uint64(len(hitTable))]
	if hh := slot.Load(); hh != nil && hh.at == sec && hh.ageN == age && hh.ttlN == secs && hh.name == c.o.Name {
		return hh
	}
	d := dateNow.Load()
	if d == nil || d.at != sec {
		d = &hitHeaders{at: sec, date: []string{now.UTC().Format(http.TimeFormat)}}
		dateNow.Store(d)
	}
	hh := &hitHeaders{
		at: sec, ageN: age, ttlN: secs, name: c.o.Name,
		age:    []string{strconv.FormatInt(age, 10)},
		date:   d.date,
		status: []string{c.o.Name + "; hit; ttl=" + strconv.FormatInt(secs, 10)},
	}
	slot.Store(hh)
	return hh
}

// respEntry is one stored response, or a Vary marker that names the request
// headers whose values select the stored variant. At scale each cache line
// a hit touches is a cache miss, so an entry is one 192-byte allocation
// (times as Unix nanoseconds, the Content-Length value shared, the Vary
// fields behind one pointer) whose first 136 bytes hold all that a fresh
// hit reads: the flags, status, the local tier's link (with the key, for
// keys of up to 32 bytes), freshness, age, header, body and tags.
type respEntry struct {
	marker   bool  // a Vary marker, not a response
	authOK   bool  // may answer a request that carries Authorization
	cookieOK bool  // may answer a request that carries a personal cookie (public or s-maxage)
	madeETag bool  // the ETag header is the cache's (a body hash), not the handler's
	status   int16 // 100-599

	tkn  uint8  // the local tier's: the length of the key in tkey, 0 when in tlong
	inl  uint8  // packed: inlHeader, inlETag (see packedEntry)
	tref uint32 // the local tier's: atomic, hit since its evictor last passed it
	tw   uint32 // the local tier's: the weight it counted

	fresh   int64          // Unix nanoseconds: fresh until
	created int64          // Unix nanoseconds: stored at
	header  []storedHeader // in stored order
	body    []byte
	tags    []string
	tkey    [32]byte // the local tier's: the key it is held under, when it fits

	tlong    string        // the local tier's: a longer key
	gen      int64         // tag generation: valid while every tag's purge generation < gen
	stale    int64         // Unix nanoseconds: stale-while-revalidate until
	errUntil int64         // Unix nanoseconds: stale-if-error until
	keepFor  time.Duration // kept this long past errUntil, for revalidation
	vx       *respVary     // nil unless Vary
}

// packedEntry is an entry with its header fields (at most 2) in the same
// allocation, and the values of an ETag the cache made: at scale, a hit then
// reads no separately allocated object but the entry (the header values
// themselves are not read: the slices are handed to the response as they
// are). An entry goes into the local tier packed when it can be.
type packedEntry struct {
	hdr  [2]storedHeader
	etag [1]string
	e    respEntry
}

const (
	inlHeader = 1 << iota // e.header is its packedEntry's hdr
	inlETag               // e's ETag values are its packedEntry's etag
)

// packed returns e, or a packed copy of it when it has at most 2 header
// fields and is not packed yet. e must not be in the local tier.
func (e *respEntry) packed() *respEntry {
	if e.inl != 0 || len(e.header) > len(packedEntry{}.hdr) || e.held() {
		return e
	}
	p := &packedEntry{e: *e}
	p.e.inl = inlHeader
	p.e.header = p.hdr[:len(e.header):len(e.header)]
	copy(p.e.header, e.header)
	if e.madeETag {
		for i := range p.e.header {
			if h := &p.e.header[i]; h.name == "Etag" && len(h.values) == 1 {
				p.etag[0] = h.values[0]
				h.values = p.etag[:1:1]
				p.e.inl |= inlETag
			}
		}
	}
	return &p.e
}

// respVary is the Vary part of an entry.
type respVary struct {
	names []string // canonical names of the request headers in Vary
	nonce string   // marker: part of every variant's key; a new marker orphans old variants
}

func (e *respEntry) vary() []string {
	if e.vx == nil {
		return nil
	}
	return e.vx.names
}

func (e *respEntry) nonce() string {
	if e.vx == nil {
		return ""
	}
	return e.vx.nonce
}

// setVary sets e's Vary names and nonce.
func (e *respEntry) setVary(names []string, nonce string) {
	if names == nil && nonce == "" {
		e.vx = nil
		return
	}
	e.vx = &respVary{names: names, nonce: nonce}
}

// nsAt is the time of Unix nanoseconds ns.
func nsAt(ns int64) time.Time { return time.Unix(0, ns) }

// addNs is t + d, saturated to the range of int64.
func addNs(t int64, d time.Duration) int64 {
	s := t + int64(d)
	switch {
	case d > 0 && s < t:
		return math.MaxInt64
	case d < 0 && s > t:
		return math.MinInt64
	}
	return s
}

// msNs is Unix milliseconds ms in Unix nanoseconds, saturated.
func msNs(ms int64) int64 {
	switch {
	case ms > math.MaxInt64/1_000_000:
		return math.MaxInt64
	case ms < math.MinInt64/1_000_000:
		return math.MinInt64
	}
	return ms * 1_000_000
}

// nsMs is Unix nanoseconds ns in Unix milliseconds (time.Time.UnixMilli).
func nsMs(ns int64) int64 { return nsAt(ns).UnixMilli() }

// tierOverhead is what the local tier spends per entry besides the entry:
// its map slot (24 bytes at a load between 7/16 and 7/8, with its control
// byte).
const tierOverhead = 40

// memSize is the bytes e keeps alive, allocation sizes included, so that
// LocalMaxBytes bounds the heap and not only bodies. Values shared with
// other entries (see shareValues, lengthValue) are not counted.
func (e *respEntry) memSize() int {
	n := tierOverhead + cap(e.body)
	if e.inl&inlHeader != 0 {
		n += allocSize(int(unsafe.Sizeof(packedEntry{})))
	} else {
		n += allocSize(int(unsafe.Sizeof(respEntry{}))) + allocSize(int(unsafe.Sizeof(storedHeader{}))*cap(e.header))
	}
	if e.vx != nil {
		n += allocSize(int(unsafe.Sizeof(respVary{}))) + allocSize(len(e.vx.nonce)) + stringsSize(e.vx.names)
	}
	for _, h := range e.header {
		n += allocSize(len(h.name)) // often a shared constant: counted anyway
		if isShared(h.name, h.values) {
			continue
		}
		if e.inl&inlETag == 0 || h.name != "Etag" {
			n += allocSize(16 * cap(h.values))
		}
		for _, v := range h.values {
			n += allocSize(len(v))
		}
	}
	n += stringsSize(e.tags)
	return n
}

func stringsSize(ss []string) int {
	if ss == nil {
		return 0
	}
	n := allocSize(16 * cap(ss))
	for _, s := range ss {
		n += allocSize(len(s))
	}
	return n
}

// sizeClasses are the Go runtime's small allocation size classes
// (runtime/sizeclasses.go); larger allocations take whole 8 KiB pages.
var sizeClasses = [...]int{0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
	2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// allocSize is the heap bytes an allocation of n bytes takes.
func allocSize(n int) int {
	if n <= 0 {
		return 0
	}
	if n > 32768 {
		return (n + 8191) &^ 8191
	}
	i, _ := slices.BinarySearch(sizeClasses[:], n)
	return sizeClasses[i]
}

// sharedVal is one interned header value.
type sharedVal struct {
	name string
	v    []string // one value
}

// sharedVals interns the values of the headers in shareable, direct-mapped
// by name and value: entries with the same Content-Type (say) share one
// []string instead of a copy each. A slot is replaced when another value
// maps to it; entries keep what they got.
var sharedVals [256]atomic.Pointer[sharedVal]

// shareable are the stored headers whose values repeat across responses.
var shareable = map[string]bool{
	"Content-Type": true, "Cache-Control": true, "Content-Encoding": true, "Content-Language": true,
	"Vary": true, "X-Content-Type-Options": true, "Access-Control-Allow-Origin": true, "Server": true,
	"X-Frame-Options": true, "Referrer-Policy": true, "Strict-Transport-Security": true,
	"Content-Security-Policy": true, "Accept-Ranges": true,
}

func valSlot(name, v string) *atomic.Pointer[sharedVal] {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	for i := 0; i < len(v); i++ {
		h = (h ^ uint32(v[i])) * 16777619
	}
	return &sharedVals[h%uint32(len(sharedVals))]
}

// shareValues returns the values of header name as the entry stores them:
// an interned slice for a single value of a shareable header, else a copy.
func shareValues(name string, values []string) []string {
	if len(values) != 1 || !shareable[name] || len(values[0]) > 256 {
		return slices.Clone(values)
	}
	slot := valSlot(name, values[0])
	if sv := slot.Load(); sv != nil && sv.name == name && sv.v[0] == values[0] {
		return sv.v
	}
	sv := &sharedVal{name: name, v: []string{values[0]}}
	slot.Store(sv)
	return sv.v
}

// isShared reports whether values is the interned slice of its slot.
func isShared(name string, values []string) bool {
	if len(values) != 1 || !shareable[name] {
		return false
	}
	sv := valSlot(name, values[0]).Load()
	return sv != nil && &sv.v[0] == &values[0]
}

// lengths interns Content-Length values, direct-mapped by length.
var lengths [256]atomic.Pointer[lengthVal]

type lengthVal struct {
	n int
	v []string
}

// lengthValue returns the Content-Length value {strconv.Itoa(n)}, shared by
// the entries of the same body length while it stays in its slot.
func lengthValue(n int) []string {
	slot := &lengths[uint(n)%uint(len(lengths))]
	if p := slot.Load(); p != nil && p.n == n {
		return p.v
	}
	p := &lengthVal{n: n, v: []string{strconv.Itoa(n)}}
	slot.Store(p)
	return p.v
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
	m := respMeta{V: 1, Nonce: e.nonce(), S: int(e.status), T: e.tags, A: e.authOK, K: e.cookieOK, Vary: e.vary(),
		C: nsMs(e.created), G: e.gen, F: nsMs(e.fresh), W: nsMs(e.stale), E: nsMs(e.errUntil), ME: e.madeETag}
	if e.keepFor > 0 {
		m.KP = nsMs(addNs(e.errUntil, e.keepFor))
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
		marker: m.V == 2, status: int16(m.S), tags: m.T, authOK: m.A, cookieOK: m.K,
		created: msNs(m.C), gen: m.G, fresh: msNs(m.F), stale: msNs(m.W),
		errUntil: msNs(m.E), madeETag: m.ME,
	}
	e.setVary(m.Vary, m.Nonce)
	if m.KP != 0 {
		e.keepFor = max(nsAt(msNs(m.KP)).Sub(nsAt(e.errUntil)), 0)
	}
	if !e.marker {
		// A copy, so that the entry does not keep the JSON part alive.
		e.body = slices.Clone(b[4+n:])
		e.header = make([]storedHeader, 0, len(m.Order))
		for _, k := range m.Order {
			if v, ok := m.H[k]; ok {
				e.header = append(e.header, storedHeader{k, shareValues(k, v)})
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
	b.WriteString(m.nonce())
	for _, name := range m.vary() {
		b.WriteString("\x00")
		b.WriteString(strings.Join(h.Values(name), ","))
	}
	return b.String()
}

// cacheableStatus are the heuristically cacheable status codes (RFC 9110
// §15.1), the default of ResponseOptions.Statuses.
var cacheableStatus = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}
