package cache

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseByteRanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    string
		size int64
		want []byteRange
		ok   bool
	}{
		{"bytes=0-4", 20, []byteRange{{0, 4}}, true},
		{"BYTES=0-4", 20, []byteRange{{0, 4}}, true},
		{" bytes =0-4", 20, []byteRange{{0, 4}}, true},
		{"bytes=-5", 20, []byteRange{{15, 19}}, true},
		{"bytes=-50", 20, []byteRange{{0, 19}}, true},
		{"bytes=5-", 20, []byteRange{{5, 19}}, true},
		{"bytes=5-500", 20, []byteRange{{5, 19}}, true},
		{"bytes=0-0, 2-3 ,,", 20, []byteRange{{0, 0}, {2, 3}}, true},
		{"bytes=99999999999999999999999-", 20, nil, true},
		{"bytes=0-99999999999999999999999", 20, []byteRange{{0, 19}}, true},
		{"bytes=20-", 20, nil, true},
		{"bytes=-0", 20, nil, true},
		{"bytes=0-", 0, nil, true},
		{"bytes=-1", 0, nil, true},
		{"bytes=5-4", 20, nil, false},
		{"bytes=", 20, nil, false},
		{"bytes=,", 20, nil, false},
		{"bytes=a-b", 20, nil, false},
		{"bytes=1", 20, nil, false},
		{"bytes=+1-2", 20, nil, false},
		{"bytes=1 - 2", 20, nil, false},
		{"bytes=-", 20, nil, false},
		{"items=0-1", 20, nil, false},
		{"0-1", 20, nil, false},
	} {
		got, ok := parseByteRanges(tc.v, tc.size)
		assert.Equal(t, tc.ok, ok, tc.v)
		assert.Equal(t, tc.want, got, tc.v)
	}
}

func TestIfRangeHolds(t *testing.T) {
	t.Parallel()
	lm := "Wed, 02 Dec 2026 10:00:00 GMT"
	lmt, _ := http.ParseTime(lm)
	e := &respEntry{status: 200, created: lmt.Add(time.Minute).UnixNano(), header: []storedHeader{{"Etag", []string{`"abc"`}}, {"Last-Modified", []string{lm}}}}
	weakLM := &respEntry{status: 200, created: lmt.Add(500 * time.Millisecond).UnixNano(), header: []storedHeader{{"Last-Modified", []string{lm}}}}
	weakTag := &respEntry{status: 200, created: lmt.UnixNano(), header: []storedHeader{{"Etag", []string{`W/"abc"`}}}}
	for _, tc := range []struct {
		e    *respEntry
		ir   []string
		want bool
	}{
		{e, nil, true},
		{e, []string{`"abc"`}, true},
		{e, []string{` "abc" `}, true},
		{e, []string{`"abd"`}, false},
		{e, []string{`W/"abc"`}, false},
		{e, []string{`"abc"x`}, false},
		{e, []string{lm}, true},
		{e, []string{"Wed, 02 Dec 2026 10:00:01 GMT"}, false},
		{e, []string{`"abc"`, `"abc"`}, false},
		{e, []string{""}, false},
		{weakLM, []string{lm}, false},
		{weakTag, []string{`W/"abc"`}, false},
		{weakTag, []string{`"abc"`}, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.ir != nil {
			r.Header["If-Range"] = tc.ir
		}
		assert.Equal(t, tc.want, ifRangeHolds(r, tc.e), "%q", tc.ir)
	}
}

func TestRequestDirectives(t *testing.T) {
	t.Parallel()
	c := &ResponseCache{}
	ign := &ResponseCache{o: ResponseOptions{IgnoreRequestNoCache: true}}
	assert.Nil(t, c.requestDirectives(nil))
	assert.Nil(t, c.requestDirectives([]string{"no-store, no-transform, max-age=x"}), "nothing that picks a response")
	rd := c.requestDirectives([]string{`MAX-AGE="30", min-fresh=5`, "max-stale=7, only-if-cached"})
	assert.Equal(t, &reqDirectives{maxAge: 30, hasMinFresh: true, minFresh: 5 * time.Second, hasMaxStale: true, maxStale: 7 * time.Second, onlyCached: true}, rd)
	assert.True(t, c.requestDirectives([]string{"max-age=0"}).noCache)
	assert.True(t, c.requestDirectives([]string{"max-stale"}).anyStale)
	assert.False(t, c.requestDirectives([]string{"max-stale=-1, max-stale="}) != nil, "malformed max-stale is ignored")
	assert.Equal(t, int64(1<<31), c.requestDirectives([]string{"max-age=999999999999999999999"}).maxAge)
	assert.Nil(t, ign.requestDirectives([]string{"no-cache, max-age=0, min-fresh=9"}))
	assert.True(t, ign.requestDirectives([]string{"no-cache, only-if-cached"}).onlyIfCached())

	t0 := time.Unix(1_000_000, 0)
	e := &respEntry{created: t0.UnixNano(), fresh: t0.Add(60 * time.Second).UnixNano(), stale: t0.Add(120 * time.Second).UnixNano(), errUntil: t0.Add(300 * time.Second).UnixNano()}
	strict := &respEntry{created: t0.UnixNano(), fresh: t0.Add(60 * time.Second).UnixNano(), stale: t0.Add(60 * time.Second).UnixNano(), errUntil: t0.Add(300 * time.Second).UnixNano(),
		header: []storedHeader{{"Cache-Control", []string{"s-maxage=60"}}}}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	d := func(v string) *reqDirectives { return c.requestDirectives([]string{v}) }
	for _, tc := range []struct {
		rd   *reqDirectives
		e    *respEntry
		now  time.Time
		want verdict
	}{
		{nil, e, at(10), useFresh},
		{nil, e, at(90), useStale},
		{nil, e, at(200), useCandidate},
		{nil, e, at(300), useNone},
		{d("no-cache"), e, at(10), useCandidate},
		{d("no-cache"), e, at(300), useNone},
		{d("no-cache").afterFlight(), e, at(10), useFresh},
		{d("max-age=10"), e, at(10), useFresh},
		{d("max-age=10"), e, at(11), useCandidate},
		{d("min-fresh=50"), e, at(10), useFresh},
		{d("min-fresh=51"), e, at(10), useCandidate},
		{d("min-fresh=0"), e, at(90), useCandidate},
		{d("max-stale=150"), e, at(200), useMaxStale},
		{d("max-stale=139"), e, at(200), useCandidate},
		{d("max-stale"), e, at(299), useMaxStale},
		{d("max-stale"), e, at(400), useMaxStale},
		{d("max-stale"), strict, at(100), useCandidate},
		{d("max-stale, max-age=100"), e, at(200), useCandidate},
	} {
		assert.Equal(t, tc.want, tc.rd.judge(tc.e, tc.now), "%+v at %v", tc.rd, tc.now.Sub(t0))
	}
}

// TestDigitsUpTo: decimal digits only, saturating at the limit without
// overflow (delta-seconds at 2^31, byte positions at 2^62).
func TestDigitsUpTo(t *testing.T) {
	for _, c := range []struct {
		in    string
		limit int64
		want  int64
		ok    bool
	}{
		{"0", 1 << 31, 0, true},
		{"007", 1 << 31, 7, true},
		{"2147483647", 1 << 31, 1<<31 - 1, true},
		{"2147483648", 1 << 31, 1 << 31, true},
		{"99999999999999999999999", 1 << 31, 1 << 31, true},
		{"4611686018427387903", 1 << 62, 1<<62 - 1, true},
		{"4611686018427387904", 1 << 62, 1 << 62, true},
		{"99999999999999999999999", 1 << 62, 1 << 62, true},
		{"", 1 << 31, 0, false},
		{"1a", 1 << 31, 0, false},
		{"-1", 1 << 31, 0, false},
		{"+1", 1 << 31, 0, false},
		{" 1", 1 << 31, 0, false},
	} {
		got, ok := digitsUpTo(c.in, c.limit)
		assert.Equal(t, c.ok, ok, "%q", c.in)
		assert.Equal(t, c.want, got, "%q", c.in)
	}
}
