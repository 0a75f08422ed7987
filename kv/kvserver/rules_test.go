package kvserver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv/kvserver"
)

// The rules of issue 13, each checked over real HTTP (an httptest.Server
// running the handler kvkit serve runs).

// live is a server on a real port with its base URL.
type live struct {
	srv  *kvserver.Server
	base string // …/client/v4/accounts/{acc}/storage/kv/namespaces
	hc   *http.Client
}

func startLive(t *testing.T, opts kvserver.Options) *live {
	t.Helper()
	srv, err := kvserver.New(opts)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &live{srv: srv, base: ts.URL + "/client/v4/accounts/" + acc + "/storage/kv/namespaces", hc: ts.Client()}
}

type reply struct {
	status int
	raw    []byte
	env    envelopeInfo
}

// envelopeInfo is the v4 envelope with every result_info field.
type envelopeInfo struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result     json.RawMessage `json:"result"`
	ResultInfo map[string]any  `json:"result_info"`
}

func (l *live) do(t *testing.T, method, path string, body string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, l.base+path, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := l.hc.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	r := reply{status: res.StatusCode, raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &r.env), string(raw))
	}
	return r
}

func (r reply) code(t *testing.T) int {
	t.Helper()
	require.Len(t, r.env.Errors, 1, string(r.raw))
	return r.env.Errors[0].Code
}

// Every namespace-scoped endpoint answers 404 with code 10013 for a
// namespace that was never created, and for one that was deleted; nothing
// is created on the way.
func TestRuleUnknownNamespace(t *testing.T) {
	t.Parallel()
	l := startLive(t, kvserver.Options{})
	deleted := l.srv.CreateNamespace("", "doomed")
	require.Equal(t, http.StatusOK, l.do(t, http.MethodPut, "/"+deleted+"/values/k", "v").status)
	require.Equal(t, http.StatusOK, l.do(t, http.MethodDelete, "/"+deleted, "").status)

	endpoints := []struct{ method, path, body string }{
		{http.MethodGet, "", ""},
		{http.MethodPut, "", `{"title":"renamed"}`},
		{http.MethodDelete, "", ""},
		{http.MethodGet, "/values/k", ""},
		{http.MethodPut, "/values/k", "v"},
		{http.MethodDelete, "/values/k", ""},
		{http.MethodGet, "/metadata/k", ""},
		{http.MethodGet, "/keys", ""},
		{http.MethodPut, "/bulk", `[{"key":"k","value":"v"}]`},
		{http.MethodPost, "/bulk/delete", `["k"]`},
		{http.MethodDelete, "/bulk", `["k"]`},
		{http.MethodPost, "/bulk/get", `{"keys":["k"]}`},
	}
	for _, ns := range map[string]string{"never created": "0123456789abcdef0123456789abcdef", "deleted": deleted} {
		for _, e := range endpoints {
			r := l.do(t, e.method, "/"+ns+e.path, e.body)
			assert.Equal(t, http.StatusNotFound, r.status, "%s %s", e.method, e.path)
			assert.False(t, r.env.Success)
			assert.Equal(t, 10013, r.code(t), "%s %s", e.method, e.path)
		}
	}
	assert.Empty(t, l.srv.Namespaces(), "no request created a namespace")
}

// Namespace listing: order, direction, page and per_page as the API
// reference defines them, with a correct result_info.
func TestRuleNamespaceListing(t *testing.T) {
	t.Parallel()
	l := startLive(t, kvserver.Options{})
	// IDs and titles sort differently.
	for id, title := range map[string]string{
		"00000000000000000000000000000003": "alpha",
		"00000000000000000000000000000001": "charlie",
		"00000000000000000000000000000005": "bravo",
		"00000000000000000000000000000002": "echo",
		"00000000000000000000000000000004": "delta",
	} {
		l.srv.CreateNamespace(id, title)
	}
	titles := func(r reply) []string {
		var ns []struct{ ID, Title string }
		require.NoError(t, json.Unmarshal(r.env.Result, &ns))
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = n.Title
		}
		return out
	}
	info := func(page, perPage, count, total, pages int) map[string]any {
		return map[string]any{"page": float64(page), "per_page": float64(perPage), "count": float64(count), "total_count": float64(total), "total_pages": float64(pages)}
	}
	for _, c := range []struct {
		query  string
		titles []string
		info   map[string]any
	}{
		{"", []string{"alpha", "bravo", "charlie", "delta", "echo"}, info(1, 20, 5, 5, 1)},
		{"?order=title&direction=desc", []string{"echo", "delta", "charlie", "bravo", "alpha"}, info(1, 20, 5, 5, 1)},
		{"?order=id", []string{"charlie", "echo", "alpha", "delta", "bravo"}, info(1, 20, 5, 5, 1)},
		{"?order=id&direction=desc", []string{"bravo", "delta", "alpha", "echo", "charlie"}, info(1, 20, 5, 5, 1)},
		{"?direction=desc&per_page=2", []string{"echo", "delta"}, info(1, 2, 2, 5, 3)},
		{"?per_page=2&page=2", []string{"charlie", "delta"}, info(2, 2, 2, 5, 3)},
		{"?per_page=2&page=3", []string{"echo"}, info(3, 2, 1, 5, 3)},
		{"?per_page=2&page=4", []string{}, info(4, 2, 0, 5, 3)}, // past the end: empty, so SDK auto-pagers stop
		{"?per_page=1000&page=1", []string{"alpha", "bravo", "charlie", "delta", "echo"}, info(1, 1000, 5, 5, 1)},
		{"?per_page=1&page=5.0", []string{"echo"}, info(5, 1, 1, 5, 5)}, // SDKs send numbers as floats
	} {
		r := l.do(t, http.MethodGet, c.query, "")
		require.Equal(t, http.StatusOK, r.status, "%s: %s", c.query, r.raw)
		assert.Equal(t, c.titles, titles(r), c.query)
		assert.Equal(t, c.info, r.env.ResultInfo, c.query)
	}
	for _, q := range []string{"?page=0", "?page=-1", "?page=x", "?page=1.5", "?per_page=0", "?per_page=1001", "?per_page=ten", "?order=name", "?order=ID", "?direction=up"} {
		r := l.do(t, http.MethodGet, q, "")
		assert.Equal(t, http.StatusBadRequest, r.status, q)
		assert.Equal(t, 10001, r.code(t), q)
	}
}

// Key listing: limit 10..1000, a prefix of at most 512 bytes, and only
// cursors the server issued.
func TestRuleKeyListing(t *testing.T) {
	t.Parallel()
	l := startLive(t, kvserver.Options{})
	id := l.srv.CreateNamespace("", "keys")
	other := l.srv.CreateNamespace("", "other")
	var bulk []map[string]string
	for i := range 25 {
		bulk = append(bulk, map[string]string{"key": "k" + string(rune('a'+i)), "value": "v"})
	}
	body, _ := json.Marshal(bulk)
	for _, ns := range []string{id, other} {
		require.Equal(t, http.StatusOK, l.do(t, http.MethodPut, "/"+ns+"/bulk", string(body)).status)
	}

	for q, want := range map[string]int{
		"?limit=9": http.StatusBadRequest, "?limit=1": http.StatusBadRequest, "?limit=0": http.StatusBadRequest,
		"?limit=1001": http.StatusBadRequest, "?limit=ten": http.StatusBadRequest, "?limit=10.5": http.StatusBadRequest,
		"?limit=10": http.StatusOK, "?limit=1000": http.StatusOK, "?limit=10.0": http.StatusOK, "": http.StatusOK,
		"?prefix=" + strings.Repeat("p", 512): http.StatusOK,
		"?prefix=" + strings.Repeat("p", 513): http.StatusRequestURITooLong,
		"?prefix=" + strings.Repeat("é", 257): http.StatusRequestURITooLong, // 514 bytes, 257 characters
	} {
		r := l.do(t, http.MethodGet, "/"+id+"/keys"+q, "")
		assert.Equal(t, want, r.status, "%.40s: %s", q, r.raw)
		if want != http.StatusOK {
			assert.Equal(t, 10001, r.code(t), q)
		}
	}

	first := l.do(t, http.MethodGet, "/"+id+"/keys?limit=10", "")
	cursor, _ := first.env.ResultInfo["cursor"].(string)
	require.NotEmpty(t, cursor)
	next := l.do(t, http.MethodGet, "/"+id+"/keys?limit=10&cursor="+url.QueryEscape(cursor), "")
	require.Equal(t, http.StatusOK, next.status)
	assert.Contains(t, string(next.env.Result), `"name":"kk"`, "a cursor it issued resumes after the tenth key")
	theirs := l.do(t, http.MethodGet, "/"+other+"/keys?limit=10", "").env.ResultInfo["cursor"].(string)
	for name, c := range map[string]string{
		"made up":                "bm90LWEtY3Vyc29y",
		"our prefix, made up":    "cbogus",
		"altered":                alter(cursor),
		"another namespace's":    theirs,
		"the binding's raw form": "azAx",
	} {
		r := l.do(t, http.MethodGet, "/"+id+"/keys?limit=10&cursor="+url.QueryEscape(c), "")
		assert.Equal(t, http.StatusBadRequest, r.status, name)
		if assert.Len(t, r.env.Errors, 1, name) {
			assert.Equal(t, 10001, r.env.Errors[0].Code, name)
			assert.Contains(t, r.env.Errors[0].Message, "cursor", name)
		}
	}
}

// Bulk get answers its values object in the order the keys were asked for,
// duplicates once at their first place, with and without metadata.
func TestRuleBulkGetOrder(t *testing.T) {
	t.Parallel()
	l := startLive(t, kvserver.Options{})
	id := l.srv.CreateNamespace("", "order")
	require.Equal(t, http.StatusOK, l.do(t, http.MethodPut, "/"+id+"/bulk",
		`[{"key":"zeta","value":"1"},{"key":"alpha","value":"2","metadata":{"m":1}},{"key":"mid","value":"{\"j\":true}"}]`).status)

	r := l.do(t, http.MethodPost, "/"+id+"/bulk/get", `{"keys":["zeta","alpha","missing","mid","alpha"]}`)
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	assert.Equal(t, `{"values":{"zeta":"1","alpha":"2","missing":null,"mid":"{\"j\":true}"}}`, string(r.env.Result))

	r = l.do(t, http.MethodPost, "/"+id+"/bulk/get", `{"keys":["mid","zeta"],"type":"json"}`)
	assert.Equal(t, `{"values":{"mid":{"j":true},"zeta":1}}`, string(r.env.Result))

	r = l.do(t, http.MethodPost, "/"+id+"/bulk/get", `{"keys":["zeta","alpha"],"withMetadata":true}`)
	assert.Equal(t, `{"values":{"zeta":{"value":"1","metadata":null},"alpha":{"value":"2","metadata":{"m":1}}}}`, string(r.env.Result))
	// The raw body keeps the order too (not only the decoded result).
	assert.Less(t, bytes.Index(r.raw, []byte(`"zeta"`)), bytes.Index(r.raw, []byte(`"alpha"`)))
}

// With a token: Bearer (any case of the scheme), or X-Auth-Key with an
// X-Auth-Email; everything else is 401 with code 10000.
func TestRuleAuthHeaders(t *testing.T) {
	t.Parallel()
	l := startLive(t, kvserver.Options{Token: "s3cret"})
	for _, c := range []struct {
		name string
		hdr  []string
		ok   bool
	}{
		{"no credentials", nil, false},
		{"bearer", []string{"Authorization", "Bearer s3cret"}, true},
		{"bearer, lower-case scheme", []string{"Authorization", "bearer s3cret"}, true},
		{"wrong bearer", []string{"Authorization", "Bearer nope"}, false},
		{"token without a scheme", []string{"Authorization", "s3cret"}, false},
		{"basic", []string{"Authorization", "Basic s3cret"}, false},
		{"global API key and email", []string{"X-Auth-Key", "s3cret", "X-Auth-Email", "dev@example.com"}, true},
		{"API key without email", []string{"X-Auth-Key", "s3cret"}, false},
		{"wrong API key", []string{"X-Auth-Key", "nope", "X-Auth-Email", "dev@example.com"}, false},
		{"a wrong Authorization wins over a right key", []string{"Authorization", "Bearer nope", "X-Auth-Key", "s3cret", "X-Auth-Email", "dev@example.com"}, false},
	} {
		r := l.do(t, http.MethodGet, "", "", c.hdr...)
		if c.ok {
			assert.Equal(t, http.StatusOK, r.status, c.name)
			continue
		}
		assert.Equal(t, http.StatusUnauthorized, r.status, c.name)
		assert.Equal(t, 10000, r.code(t), c.name)
	}
}

// alter changes the last character of a cursor.
func alter(c string) string {
	last := byte('A')
	if c[len(c)-1] == 'A' {
		last = 'B'
	}
	return c[:len(c)-1] + string(last)
}
