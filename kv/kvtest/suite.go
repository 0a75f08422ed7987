// Package kvtest holds the conformance suite that every kvkit backend
// passes, and test helpers (a manual Clock, a call-counting Namespace).
//
// A backend's test runs the suite with a factory that returns a fresh,
// empty namespace whose notion of time is the given clock:
//
//	func TestConformance(t *testing.T) {
//		kvtest.Run(t, func(t *testing.T, now func() time.Time) kv.Namespace {
//			return memory.New(memory.Options{Clock: now})
//		})
//	}
//
// The suite checks the rules of section 6 of docs/cloudflare-kv.md: key bytes,
// value and metadata limits, TTL and expiration rules, expiry at
// now >= expiration, listing order, paging and cursors, bulk limits, and
// context cancellation. Bulk and streaming cases run when the namespace
// implements kv.BulkNamespace or kv.StreamNamespace.
package kvtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
)

// Factory returns a fresh, empty namespace that reads the time from now.
type Factory func(t *testing.T, now func() time.Time) kv.Namespace

type env struct {
	ns    kv.Namespace
	clock *Clock
	ctx   context.Context
}

// Run runs the conformance suite against namespaces made by newNS.
func Run(t *testing.T, newNS Factory) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, e env)
	}{
		{"MissingKey", testMissingKey},
		{"RoundTrip", testRoundTrip},
		{"PutReplacesEverything", testPutReplaces},
		{"ValidKeysRoundTrip", testValidKeys},
		{"InvalidKeys", testInvalidKeys},
		{"InvalidUTF8Keys", testInvalidUTF8},
		{"KeyLengthInBytes", testKeyLength},
		{"TTL", testTTL},
		{"Expiration", testExpiration},
		{"TTLWinsOverExpiration", testTTLWins},
		{"ExpiryAtExactSecond", testExpiry},
		{"Metadata", testMetadata},
		{"ValueSize", testValueSize},
		{"RejectedPutStoresNothing", testRejectedPut},
		{"ListOrderUTF8Bytes", testListOrder},
		{"ListPrefix", testListPrefix},
		{"ListPaging", testListPaging},
		{"ListLimits", testListLimits},
		{"ListEntryFields", testListFields},
		{"DeleteMissing", testDeleteMissing},
		{"ContextCancelled", testCancelled},
		{"Concurrent", testConcurrent},
		{"Bulk", testBulk},
		{"Stream", testStream},
		{"EdgeCacheTTL", testEdgeCacheTTL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock()
			ns := newNS(t, clock.Now)
			require.NotNil(t, ns, "factory returned a nil namespace")
			c.fn(t, env{ns: ns, clock: clock, ctx: context.Background()})
		})
	}
}

// requireKVError checks err wraps sentinel and is a *kv.Error naming op and key.
func requireKVError(t *testing.T, err error, sentinel error, op, key string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, sentinel)
	var ke *kv.Error
	require.True(t, errors.As(err, &ke), "error %v is not a *kv.Error", err)
	if op != "" {
		assert.Equal(t, op, ke.Op, "error op")
	}
	if key != "" {
		assert.Equal(t, key, ke.Key, "error key")
	}
}

func mustGet(t *testing.T, e env, key string) kv.Entry[[]byte] {
	t.Helper()
	it, found, err := e.ns.Get(e.ctx, key, kv.GetOptions{WithMetadata: true})
	require.NoError(t, err)
	require.True(t, found, "key %q not found", key)
	require.Equal(t, key, it.Key, "the entry names the key read")
	return it
}

func mustMissing(t *testing.T, e env, key string) {
	t.Helper()
	_, found, err := e.ns.Get(e.ctx, key, kv.GetOptions{})
	require.NoError(t, err)
	require.False(t, found, "key %q should be missing", key)
}

func put(t *testing.T, e env, key, value string, o kv.PutOptions) {
	t.Helper()
	require.NoError(t, e.ns.Put(e.ctx, key, []byte(value), o))
}

func listAll(t *testing.T, e env, prefix string, limit int) ([]kv.KeyInfo, int) {
	t.Helper()
	var keys []kv.KeyInfo
	req := kv.ListOptions{Prefix: prefix, Limit: limit}
	pages := 0
	for {
		res, err := e.ns.List(e.ctx, req)
		require.NoError(t, err)
		pages++
		keys = append(keys, res.Keys...)
		if res.Complete {
			require.Empty(t, res.Cursor, "complete page must carry no cursor")
			return keys, pages
		}
		require.NotEmpty(t, res.Cursor, "incomplete page must carry a cursor")
		req.Cursor = res.Cursor
		require.Less(t, pages, 10000, "listing does not end")
	}
}

func names(keys []kv.KeyInfo) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Name
	}
	return out
}

func testMissingKey(t *testing.T, e env) {
	it, found, err := e.ns.Get(e.ctx, "nope", kv.GetOptions{WithMetadata: true})
	require.NoError(t, err)
	assert.False(t, found)
	assert.Nil(t, it.Value)
}

func testRoundTrip(t *testing.T, e env) {
	put(t, e, "k", "v", kv.PutOptions{})
	it := mustGet(t, e, "k")
	assert.Equal(t, []byte("v"), it.Value)
	assert.Nil(t, it.Metadata)
	assert.True(t, it.Expiration.IsZero())

	// An empty value is a value, not "missing".
	put(t, e, "empty", "", kv.PutOptions{})
	it = mustGet(t, e, "empty")
	assert.Empty(t, it.Value)

	// Binary values survive unchanged.
	bin := []byte{0, 1, 2, 0xff, 0xfe, '\n', 0, 0x80}
	require.NoError(t, e.ns.Put(e.ctx, "bin", bin, kv.PutOptions{}))
	assert.Equal(t, bin, mustGet(t, e, "bin").Value)

	// The caller's buffer may be reused after Put.
	buf := []byte("original")
	require.NoError(t, e.ns.Put(e.ctx, "buf", buf, kv.PutOptions{}))
	copy(buf, "XXXXXXXX")
	assert.Equal(t, "original", string(mustGet(t, e, "buf").Value))
}

func testPutReplaces(t *testing.T, e env) {
	put(t, e, "k", "one", kv.PutOptions{TTL: 120 * time.Second, Metadata: json.RawMessage(`{"v":1}`)})
	it := mustGet(t, e, "k")
	assert.Equal(t, Epoch.Add(120*time.Second).Unix(), it.Expiration.Unix())
	assert.JSONEq(t, `{"v":1}`, string(it.Metadata))

	// A plain put clears the earlier TTL and metadata.
	put(t, e, "k", "two", kv.PutOptions{})
	it = mustGet(t, e, "k")
	assert.Equal(t, "two", string(it.Value))
	assert.True(t, it.Expiration.IsZero(), "plain put must clear the TTL")
	assert.Nil(t, it.Metadata, "plain put must clear metadata")
	e.clock.Advance(time.Hour)
	mustGet(t, e, "k")
}

// ValidKeys are keys that real KV accepts and that trip naive URL handling.
var ValidKeys = []string{
	"a/b", "/leading", "trailing/", "a?b", "a#b", "100%", "%2F", "a%20b", "with space", " ",
	"tab\there", "new\nline", "nul\x00byte", "emoji😀", "...", "./a", "a/../b", "../x", "a/./b",
	"ü", "中文", "a+b", "a&b=c", "\\", "'\"", "<>", "~!@$^*()[]{}|;:,", "é",
}

func testValidKeys(t *testing.T, e env) {
	for i, k := range ValidKeys {
		val := fmt.Sprintf("value-%d", i)
		require.NoError(t, e.ns.Put(e.ctx, k, []byte(val), kv.PutOptions{}), "put %q", k)
		assert.Equal(t, val, string(mustGet(t, e, k).Value), "get %q", k)
	}
	keys, _ := listAll(t, e, "", 0)
	want := slices.Clone(ValidKeys)
	slices.Sort(want)
	assert.Equal(t, want, names(keys), "list must return every key unchanged")
	for _, k := range ValidKeys {
		require.NoError(t, e.ns.Delete(e.ctx, k), "delete %q", k)
		mustMissing(t, e, k)
	}
	keys, _ = listAll(t, e, "", 0)
	assert.Empty(t, keys)
}

func testInvalidKeys(t *testing.T, e env) {
	for _, k := range []string{"", ".", ".."} {
		_, _, err := e.ns.Get(e.ctx, k, kv.GetOptions{})
		requireKVError(t, err, kv.ErrInvalidKey, "get", k)
		requireKVError(t, e.ns.Put(e.ctx, k, []byte("v"), kv.PutOptions{}), kv.ErrInvalidKey, "put", k)
		requireKVError(t, e.ns.Delete(e.ctx, k), kv.ErrInvalidKey, "delete", k)
	}
	keys, _ := listAll(t, e, "", 0)
	assert.Empty(t, keys, "rejected puts must store nothing")
}

// InvalidUTF8Keys are byte strings that are not UTF-8: KV keys are text, and
// backends disagreed on them (the REST API stored replacement characters, the
// memory backend the raw bytes), so every backend refuses them.
var InvalidUTF8Keys = []string{
	"bad\xff\xfekey", // bytes that never occur in UTF-8
	"caf\xc3",        // a character cut short
	"\xa9t\xe9",      // continuation byte first, then Latin-1
	"\xed\xa0\x80",   // an encoded UTF-16 surrogate
	"\xc0\xaf",       // an overlong "/"
}

func testInvalidUTF8(t *testing.T, e env) {
	put(t, e, "caf\u00e9", "v", kv.PutOptions{}) // a valid neighbour that must survive
	for _, k := range InvalidUTF8Keys {
		_, _, err := e.ns.Get(e.ctx, k, kv.GetOptions{})
		requireKVError(t, err, kv.ErrInvalidKey, "get", k)
		requireKVError(t, e.ns.Put(e.ctx, k, []byte("v"), kv.PutOptions{}), kv.ErrInvalidKey, "put", k)
		requireKVError(t, e.ns.Delete(e.ctx, k), kv.ErrInvalidKey, "delete", k)
		// A list prefix is refused too: a prefix cut inside a character
		// ("caf\xc3" for "café") would match by bytes here and by text (or
		// not at all) elsewhere.
		_, err = e.ns.List(e.ctx, kv.ListOptions{Prefix: k})
		requireKVError(t, err, kv.ErrInvalidKey, "list", k)
		if b, ok := e.ns.(kv.BulkNamespace); ok {
			_, err = b.GetBulk(e.ctx, []string{"caf\u00e9", k}, kv.GetOptions{})
			requireKVError(t, err, kv.ErrInvalidKey, "", "")
			requireKVError(t, b.PutBulk(e.ctx, []kv.Pair{{Key: "fine", Value: []byte("v")}, {Key: k, Value: []byte("v")}}), kv.ErrInvalidKey, "", "")
			requireKVError(t, b.DeleteBulk(e.ctx, []string{"caf\u00e9", k}), kv.ErrInvalidKey, "", "")
		}
		if s, ok := e.ns.(kv.StreamNamespace); ok {
			_, _, err = s.GetStream(e.ctx, k)
			requireKVError(t, err, kv.ErrInvalidKey, "", "")
			requireKVError(t, s.PutStream(e.ctx, k, strings.NewReader("v"), kv.PutOptions{}), kv.ErrInvalidKey, "", "")
		}
	}
	keys, _ := listAll(t, e, "", 0)
	assert.Equal(t, []string{"caf\u00e9"}, names(keys), "rejected writes store nothing, rejected deletes delete nothing")
}

func testKeyLength(t *testing.T, e env) {
	ok := []string{strings.Repeat("a", 512), strings.Repeat("😀", 128), strings.Repeat("é", 256)}
	bad := []string{strings.Repeat("a", 513), strings.Repeat("😀", 129), strings.Repeat("é", 256) + "a"}
	for _, k := range ok {
		require.NoError(t, e.ns.Put(e.ctx, k, []byte("v"), kv.PutOptions{}), "%d bytes", len(k))
		mustGet(t, e, k)
	}
	for _, k := range bad {
		requireKVError(t, e.ns.Put(e.ctx, k, []byte("v"), kv.PutOptions{}), kv.ErrInvalidKey, "put", "")
		_, _, err := e.ns.Get(e.ctx, k, kv.GetOptions{})
		requireKVError(t, err, kv.ErrInvalidKey, "get", "")
	}
	keys, _ := listAll(t, e, "", 0)
	assert.Len(t, keys, len(ok))
}

func testTTL(t *testing.T, e env) {
	for _, ttl := range []time.Duration{-time.Second, time.Second, 59 * time.Second, 60500 * time.Millisecond} {
		requireKVError(t, e.ns.Put(e.ctx, "k", []byte("v"), kv.PutOptions{TTL: ttl}), kv.ErrInvalidTTL, "put", "k")
	}
	mustMissing(t, e, "k")
	for _, ttl := range []time.Duration{60 * time.Second, 61 * time.Second, 24 * time.Hour} {
		put(t, e, "k", "v", kv.PutOptions{TTL: ttl})
		assert.Equal(t, Epoch.Add(ttl).Unix(), mustGet(t, e, "k").Expiration.Unix(), "ttl %v", ttl)
	}
}

func testExpiration(t *testing.T, e env) {
	now := e.clock.Now()
	for _, exp := range []time.Time{now.Add(-time.Hour), now, now.Add(time.Second), now.Add(59 * time.Second), time.Unix(kv.MaxExpiration+1, 0)} {
		requireKVError(t, e.ns.Put(e.ctx, "k", []byte("v"), kv.PutOptions{Expiration: exp}), kv.ErrInvalidExpiration, "put", "k")
	}
	mustMissing(t, e, "k")
	for _, exp := range []time.Time{now.Add(60 * time.Second), now.Add(time.Hour), time.Unix(kv.MaxExpiration, 0)} {
		put(t, e, "k", "v", kv.PutOptions{Expiration: exp})
		assert.Equal(t, exp.Unix(), mustGet(t, e, "k").Expiration.Unix())
	}
}

func testTTLWins(t *testing.T, e env) {
	// With both, the TTL wins and the expiration is not even validated.
	put(t, e, "k", "v", kv.PutOptions{TTL: 120 * time.Second, Expiration: e.clock.Now().Add(-time.Hour)})
	assert.Equal(t, Epoch.Add(120*time.Second).Unix(), mustGet(t, e, "k").Expiration.Unix())
	put(t, e, "k2", "v", kv.PutOptions{TTL: 60 * time.Second, Expiration: e.clock.Now().Add(time.Hour)})
	assert.Equal(t, Epoch.Add(60*time.Second).Unix(), mustGet(t, e, "k2").Expiration.Unix())
	// An invalid TTL is still rejected when an expiration is given.
	requireKVError(t, e.ns.Put(e.ctx, "k3", []byte("v"), kv.PutOptions{TTL: 59 * time.Second, Expiration: e.clock.Now().Add(time.Hour)}), kv.ErrInvalidTTL, "put", "k3")
}

func testExpiry(t *testing.T, e env) {
	put(t, e, "ttl", "v", kv.PutOptions{TTL: 60 * time.Second})
	put(t, e, "abs", "v", kv.PutOptions{Expiration: e.clock.Now().Add(90 * time.Second)})
	put(t, e, "forever", "v", kv.PutOptions{})

	e.clock.Advance(59 * time.Second)
	mustGet(t, e, "ttl")
	keys, _ := listAll(t, e, "", 0)
	assert.Equal(t, []string{"abs", "forever", "ttl"}, names(keys))

	e.clock.Advance(time.Second) // now == expiration: expired
	mustMissing(t, e, "ttl")
	mustGet(t, e, "abs")
	keys, _ = listAll(t, e, "", 0)
	assert.Equal(t, []string{"abs", "forever"}, names(keys))

	e.clock.Advance(30 * time.Second)
	mustMissing(t, e, "abs")
	keys, _ = listAll(t, e, "", 0)
	assert.Equal(t, []string{"forever"}, names(keys))

	// An expired key can be written again.
	put(t, e, "ttl", "again", kv.PutOptions{})
	assert.Equal(t, "again", string(mustGet(t, e, "ttl").Value))
}

func testMetadata(t *testing.T, e env) {
	// Metadata is measured as its JSON encoding: `"` + n bytes + `"`.
	ok := json.RawMessage(`"` + strings.Repeat("m", kv.MaxMetadataSize-2) + `"`)
	tooBig := json.RawMessage(`"` + strings.Repeat("m", kv.MaxMetadataSize-1) + `"`)
	require.Len(t, ok, 1024)
	require.Len(t, tooBig, 1025)

	put(t, e, "ok", "v", kv.PutOptions{Metadata: ok})
	assert.JSONEq(t, string(ok), string(mustGet(t, e, "ok").Metadata))
	requireKVError(t, e.ns.Put(e.ctx, "big", []byte("v"), kv.PutOptions{Metadata: tooBig}), kv.ErrMetadataTooLarge, "put", "big")
	mustMissing(t, e, "big")
	requireKVError(t, e.ns.Put(e.ctx, "bad", []byte("v"), kv.PutOptions{Metadata: json.RawMessage(`{nope`)}), kv.ErrInvalidMetadata, "put", "bad")
	mustMissing(t, e, "bad")

	for name, m := range map[string]string{
		"object": `{"role":"admin","n":1.5,"tags":["a","b"],"nested":{"ok":true}}`,
		"number": `0`, "false": `false`, "string": `""`, "array": `[]`,
	} {
		put(t, e, name, "v", kv.PutOptions{Metadata: json.RawMessage(m)})
		assert.JSONEq(t, m, string(mustGet(t, e, name).Metadata), name)
	}
	// JSON null means no metadata.
	put(t, e, "null", "v", kv.PutOptions{Metadata: json.RawMessage(`null`)})
	assert.Nil(t, mustGet(t, e, "null").Metadata)
}

func testValueSize(t *testing.T, e env) {
	max := bytes.Repeat([]byte{'x'}, kv.MaxValueSize)
	require.NoError(t, e.ns.Put(e.ctx, "max", max, kv.PutOptions{}))
	// A plain read: with metadata the REST backend reads through the bulk
	// endpoint, whose JSON costs seconds for 25 MiB under the race detector.
	got, found, err := e.ns.Get(e.ctx, "max", kv.GetOptions{})
	require.NoError(t, err)
	require.True(t, found)
	assert.Len(t, got.Value, kv.MaxValueSize)
	requireKVError(t, e.ns.Put(e.ctx, "over", append(max, 'x'), kv.PutOptions{}), kv.ErrValueTooLarge, "put", "over")
	mustMissing(t, e, "over")
}

func testRejectedPut(t *testing.T, e env) {
	put(t, e, "k", "keep", kv.PutOptions{Metadata: json.RawMessage(`{"a":1}`)})
	bad := []kv.PutOptions{
		{TTL: 30 * time.Second},
		{Expiration: e.clock.Now().Add(10 * time.Second)},
		{Metadata: json.RawMessage(`"` + strings.Repeat("m", 2000) + `"`)},
	}
	for _, o := range bad {
		require.Error(t, e.ns.Put(e.ctx, "k", []byte("replaced"), o))
	}
	it := mustGet(t, e, "k")
	assert.Equal(t, "keep", string(it.Value))
	assert.JSONEq(t, `{"a":1}`, string(it.Metadata))
	assert.True(t, it.Expiration.IsZero())
}

func testListOrder(t *testing.T, e env) {
	// UTF-8 byte order, not UTF-16 (where 😀's surrogates sort before Ａ
	// U+FF21) and not locale order (where "é" sorts near "e").
	keys := []string{"b", "a", "B", "A", "é", "e", "z", "Z", "中", "文", "😀", "Ａ", "ß", "10", "9", "_", "a/b", "a-b", "~"}
	for _, k := range keys {
		put(t, e, k, "v", kv.PutOptions{})
	}
	got, _ := listAll(t, e, "", 0)
	want := slices.Clone(keys)
	slices.Sort(want) // Go compares strings bytewise: UTF-8 byte order
	assert.Equal(t, want, names(got))
	assert.Less(t, slices.Index(names(got), "Ａ"), slices.Index(names(got), "😀"))
}

func testListPrefix(t *testing.T, e env) {
	for _, k := range []string{"user:1", "user:2", "User:3", "users", "user:", "use", "other", "user:%", "user:/"} {
		put(t, e, k, "v", kv.PutOptions{})
	}
	got, _ := listAll(t, e, "user:", 0)
	assert.Equal(t, []string{"user:", "user:%", "user:/", "user:1", "user:2"}, names(got))
	got, _ = listAll(t, e, "User", 0)
	assert.Equal(t, []string{"User:3"}, names(got), "prefix is case-sensitive")
	got, _ = listAll(t, e, "user:%", 0)
	assert.Equal(t, []string{"user:%"}, names(got), "prefix is literal")
	got, _ = listAll(t, e, "none", 0)
	assert.Empty(t, got)
}

func testListPaging(t *testing.T, e env) {
	const n = 2500
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("p:%05d", i)
	}
	putMany(t, e, want)
	put(t, e, "q:outside", "v", kv.PutOptions{})

	var sizes []int
	var got []string
	req := kv.ListOptions{Prefix: "p:"}
	for {
		res, err := e.ns.List(e.ctx, req)
		require.NoError(t, err)
		sizes = append(sizes, len(res.Keys))
		got = append(got, names(res.Keys)...)
		if res.Complete {
			assert.Empty(t, res.Cursor)
			break
		}
		require.NotEmpty(t, res.Cursor)
		req.Cursor = res.Cursor
		require.Less(t, len(sizes), 10)
	}
	assert.Equal(t, []int{1000, 1000, 500}, sizes)
	assert.Equal(t, want, got)

	// Smaller pages, prefix repeated on every call.
	keys, pages := listAll(t, e, "p:000", 10)
	assert.Len(t, keys, 100)
	assert.GreaterOrEqual(t, pages, 10)
}

// putMany writes keys with value "v", in bulk when the namespace can.
func putMany(t *testing.T, e env, keys []string) {
	t.Helper()
	if b, ok := e.ns.(kv.BulkNamespace); ok {
		entries := make([]kv.Pair, len(keys))
		for i, k := range keys {
			entries[i] = kv.Pair{Key: k, Value: []byte("v")}
		}
		require.NoError(t, b.PutBulk(e.ctx, entries))
		return
	}
	for _, k := range keys {
		put(t, e, k, "v", kv.PutOptions{})
	}
}

func testListLimits(t *testing.T, e env) {
	for i := range 15 {
		put(t, e, fmt.Sprintf("k%02d", i), "v", kv.PutOptions{})
	}
	for _, limit := range []int{-1, kv.MaxListLimit + 1} {
		_, err := e.ns.List(e.ctx, kv.ListOptions{Limit: limit})
		requireKVError(t, err, kv.ErrInvalidLimit, "list", "")
	}
	res, err := e.ns.List(e.ctx, kv.ListOptions{Limit: kv.MaxListLimit})
	require.NoError(t, err)
	assert.Len(t, res.Keys, 15)
	assert.True(t, res.Complete)

	res, err = e.ns.List(e.ctx, kv.ListOptions{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, res.Keys, 10)
	assert.False(t, res.Complete)

	// A cursor the backend never issued either fails with ErrInvalidCursor
	// (the REST API, kv/memory) or starts the listing over (the binding);
	// it never skips keys. ("azAx" is valid base64 of "k01": a backend must
	// not decode just any text as a position.)
	for _, c := range []string{"not-a-cursor-we-issued", "azAx"} {
		res, err = e.ns.List(e.ctx, kv.ListOptions{Cursor: c})
		if err != nil {
			requireKVError(t, err, kv.ErrInvalidCursor, "list", "")
			continue
		}
		require.NotEmpty(t, res.Keys)
		assert.Equal(t, "k00", res.Keys[0].Name, "unknown cursor %q must fail or start over", c)
	}
}

func testListFields(t *testing.T, e env) {
	put(t, e, "plain", "v", kv.PutOptions{})
	put(t, e, "rich", "v", kv.PutOptions{TTL: 3600 * time.Second, Metadata: json.RawMessage(`{"x":1}`)})
	keys, _ := listAll(t, e, "", 0)
	require.Len(t, keys, 2)
	assert.Equal(t, "plain", keys[0].Name)
	assert.True(t, keys[0].Expiration.IsZero())
	assert.Nil(t, keys[0].Metadata)
	assert.Equal(t, "rich", keys[1].Name)
	assert.Equal(t, Epoch.Add(time.Hour).Unix(), keys[1].Expiration.Unix())
	assert.JSONEq(t, `{"x":1}`, string(keys[1].Metadata))
}

func testDeleteMissing(t *testing.T, e env) {
	require.NoError(t, e.ns.Delete(e.ctx, "never-written"))
	put(t, e, "k", "v", kv.PutOptions{})
	require.NoError(t, e.ns.Delete(e.ctx, "k"))
	require.NoError(t, e.ns.Delete(e.ctx, "k"))
	mustMissing(t, e, "k")
}

func testCancelled(t *testing.T, e env) {
	put(t, e, "k", "v", kv.PutOptions{})
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	_, _, err := e.ns.Get(ctx, "k", kv.GetOptions{})
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, e.ns.Put(ctx, "k", []byte("changed"), kv.PutOptions{}), context.Canceled)
	assert.ErrorIs(t, e.ns.Delete(ctx, "k"), context.Canceled)
	_, err = e.ns.List(ctx, kv.ListOptions{})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "v", string(mustGet(t, e, "k").Value), "a cancelled put must not write")
}

func testConcurrent(t *testing.T, e env) {
	const workers, each = 8, 25
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				k := fmt.Sprintf("w%d:%d", w, i)
				if err := e.ns.Put(e.ctx, k, []byte(k), kv.PutOptions{}); err != nil {
					errs <- err
					return
				}
				it, found, err := e.ns.Get(e.ctx, k, kv.GetOptions{})
				if err != nil || !found || string(it.Value) != k {
					errs <- fmt.Errorf("get %q: found=%v err=%v", k, found, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		require.NoError(t, <-errs)
	}
	keys, _ := listAll(t, e, "w", 0)
	assert.Len(t, keys, workers*each)
}

func testBulk(t *testing.T, e env) {
	b, ok := e.ns.(kv.BulkNamespace)
	if !ok {
		t.Log("namespace has no bulk endpoints")
		return
	}
	// Limits: 0 and 101 keys for get, 0 and 10,001 for writes.
	_, err := b.GetBulk(e.ctx, nil, kv.GetOptions{})
	requireKVError(t, err, kv.ErrInvalidBatch, "", "")
	keys101 := make([]string, 101)
	for i := range keys101 {
		keys101[i] = fmt.Sprintf("b:%03d", i)
	}
	_, err = b.GetBulk(e.ctx, keys101, kv.GetOptions{})
	requireKVError(t, err, kv.ErrInvalidBatch, "", "")
	requireKVError(t, b.PutBulk(e.ctx, nil), kv.ErrInvalidBatch, "", "")
	requireKVError(t, b.DeleteBulk(e.ctx, nil), kv.ErrInvalidBatch, "", "")
	tooMany := make([]kv.Pair, kv.MaxBulkWrite+1)
	for i := range tooMany {
		tooMany[i] = kv.Pair{Key: fmt.Sprintf("t:%05d", i), Value: []byte("v")}
	}
	requireKVError(t, b.PutBulk(e.ctx, tooMany), kv.ErrInvalidBatch, "", "")
	requireKVError(t, b.DeleteBulk(e.ctx, make([]string, kv.MaxBulkWrite+1)), kv.ErrInvalidBatch, "", "")
	keys, _ := listAll(t, e, "", 0)
	require.Empty(t, keys, "rejected bulk calls must write nothing")

	// 100 keys, half present, with metadata and TTL on some.
	entries := make([]kv.Pair, 0, 50)
	for i := 0; i < 100; i += 2 {
		be := kv.Pair{Key: keys101[i], Value: []byte(fmt.Sprintf("value %d ü", i))}
		if i%4 == 0 {
			be.TTL = 120 * time.Second
			be.Metadata = json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
		}
		entries = append(entries, be)
	}
	require.NoError(t, b.PutBulk(e.ctx, entries))
	got, err := b.GetBulk(e.ctx, keys101[:100], kv.GetOptions{WithMetadata: true})
	require.NoError(t, err)
	assert.Len(t, got, 50)
	for i := range 100 {
		it, found := got[keys101[i]]
		if i%2 == 1 {
			assert.False(t, found, "odd keys are missing")
			continue
		}
		require.True(t, found, keys101[i])
		assert.Equal(t, keys101[i], it.Key)
		assert.Equal(t, fmt.Sprintf("value %d ü", i), string(it.Value))
		if i%4 == 0 {
			assert.JSONEq(t, fmt.Sprintf(`{"i":%d}`, i), string(it.Metadata))
			assert.Equal(t, Epoch.Add(120*time.Second).Unix(), it.Expiration.Unix())
		} else {
			assert.Nil(t, it.Metadata)
		}
	}
	// Duplicates are merged.
	got, err = b.GetBulk(e.ctx, []string{keys101[0], keys101[0], keys101[1]}, kv.GetOptions{})
	require.NoError(t, err)
	assert.Len(t, got, 1)

	// One invalid entry rejects the whole write.
	bad := []kv.Pair{{Key: "fine", Value: []byte("v")}, {Key: "..", Value: []byte("v")}}
	requireKVError(t, b.PutBulk(e.ctx, bad), kv.ErrInvalidKey, "", "")
	mustMissing(t, e, "fine")
	bad = []kv.Pair{{Key: "fine", Value: []byte("v")}, {Key: "short", Value: []byte("v"), PutOptions: kv.PutOptions{TTL: 10 * time.Second}}}
	requireKVError(t, b.PutBulk(e.ctx, bad), kv.ErrInvalidTTL, "", "")
	mustMissing(t, e, "fine")

	require.NoError(t, b.DeleteBulk(e.ctx, keys101[:10]))
	for i := range 10 {
		mustMissing(t, e, keys101[i])
	}
	mustGet(t, e, keys101[10])
}

func testStream(t *testing.T, e env) {
	s, ok := e.ns.(kv.StreamNamespace)
	if !ok {
		t.Log("namespace has no streaming")
		return
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	require.NoError(t, s.PutStream(e.ctx, "big", bytes.NewReader(big), kv.PutOptions{TTL: 60 * time.Second}))
	r, found, err := s.GetStream(e.ctx, "big")
	require.NoError(t, err)
	require.True(t, found)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.Equal(t, big, got)
	_, found, err = s.GetStream(e.ctx, "nope")
	require.NoError(t, err)
	assert.False(t, found)
	over := io.LimitReader(zeros{}, kv.MaxValueSize+1)
	requireKVError(t, s.PutStream(e.ctx, "over", over, kv.PutOptions{}), kv.ErrValueTooLarge, "put", "over")
	mustMissing(t, e, "over")
}

// testEdgeCacheTTL: a read with GetOptions.EdgeCacheTTL answers as one
// without. Backends that read through a Worker's binding pass it on as
// cacheTtl; the others ignore it.
func testEdgeCacheTTL(t *testing.T, e env) {
	put(t, e, "k", "v", kv.PutOptions{Metadata: json.RawMessage(`{"m":1}`)})
	for _, d := range []time.Duration{kv.MinEdgeCacheTTL, time.Hour} {
		it, found, err := e.ns.Get(e.ctx, "k", kv.GetOptions{WithMetadata: true, EdgeCacheTTL: d})
		require.NoError(t, err, "edge cache TTL %v", d)
		require.True(t, found)
		assert.Equal(t, "v", string(it.Value))
		assert.JSONEq(t, `{"m":1}`, string(it.Metadata))
		_, found, err = e.ns.Get(e.ctx, "missing", kv.GetOptions{EdgeCacheTTL: d})
		require.NoError(t, err)
		assert.False(t, found)
		if b, ok := e.ns.(kv.BulkNamespace); ok {
			got, err := b.GetBulk(e.ctx, []string{"k", "missing"}, kv.GetOptions{EdgeCacheTTL: d})
			require.NoError(t, err)
			assert.Len(t, got, 1)
			assert.Equal(t, "v", string(got["k"].Value))
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
