package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/cmd/kvkit/internal/dashboard"
	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/flags"
	"github.com/kvkit/kvkit/patterns/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const nsID = kvserver.DefaultNamespaceID

// site is a server and its dashboard on a real port, with a browser-like
// client (cookie jar, redirects followed).
type site struct {
	srv   *kvserver.Server
	url   string
	hc    *http.Client
	clock *kvtest.Clock
	token string
}

func newSite(t *testing.T, token string) *site {
	t.Helper()
	clock := kvtest.NewClock()
	srv, err := kvserver.New(kvserver.Options{Token: token, Clock: clock.Now})
	require.NoError(t, err)
	srv.CreateNamespace(nsID, kvserver.DefaultNamespaceTitle)
	d, err := dashboard.New(srv, dashboard.Options{Token: token, Clock: clock.Now})
	require.NoError(t, err)
	ts := httptest.NewServer(d)
	t.Cleanup(ts.Close)
	jar, _ := cookiejar.New(nil)
	hc := ts.Client()
	hc.Jar = jar
	return &site{srv: srv, url: ts.URL, hc: hc, clock: clock, token: token}
}

type page struct {
	status int
	url    string // after redirects
	body   string
}

func (s *site) get(t *testing.T, path string) page {
	t.Helper()
	res, err := s.hc.Get(s.url + path)
	require.NoError(t, err)
	return readPage(t, res)
}

func (s *site) post(t *testing.T, path string, form url.Values) page {
	t.Helper()
	res, err := s.hc.PostForm(s.url+path, form)
	require.NoError(t, err)
	return readPage(t, res)
}

// put sends the put form as a browser does (multipart, for the file input).
func (s *site) put(t *testing.T, ns string, fields map[string]string, file []byte) page {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, k := range []string{"from", "key", "value", "ttl", "expiration", "metadata"} {
		require.NoError(t, mw.WriteField(k, fields[k]))
	}
	fw, err := mw.CreateFormFile("file", map[bool]string{true: "upload.bin", false: ""}[file != nil])
	require.NoError(t, err)
	_, _ = fw.Write(file)
	require.NoError(t, mw.Close())
	res, err := s.hc.Post(s.url+"/ns/"+ns+"/put", mw.FormDataContentType(), &body)
	require.NoError(t, err)
	return readPage(t, res)
}

func readPage(t *testing.T, res *http.Response) page {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return page{status: res.StatusCode, url: res.Request.URL.Path + "?" + res.Request.URL.RawQuery, body: string(b)}
}

// byID returns the inner HTML of the element with id, unescaped enough
// for the checks (entities decoded).
func byID(t *testing.T, body, id string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<(\w+)[^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</(\w+)>`)
	m := re.FindStringSubmatch(body)
	require.NotNil(t, m, "no element #%s in:\n%s", id, body)
	return unescape(m[2])
}

func unescape(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&quot;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

func (s *site) ns(t *testing.T, id string) *memory.Namespace {
	t.Helper()
	ns, ok := s.srv.Namespace(id)
	require.True(t, ok)
	return ns
}

func (s *site) value(t *testing.T, id, key string) (string, bool) {
	t.Helper()
	it, found, err := s.ns(t, id).Get(context.Background(), key, kv.GetOptions{})
	require.NoError(t, err)
	return string(it.Value), found
}

// apiError sends a request to the API itself and returns its status and
// error message, to compare with what the dashboard shows.
func (s *site) apiError(t *testing.T, method, path string, q url.Values, contentType string, body []byte) (int, string) {
	t.Helper()
	u := "/client/v4/accounts/" + kvserver.DefaultAccountID + "/storage/kv/namespaces" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req := httptest.NewRequest(method, u, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	rec := httptest.NewRecorder()
	s.srv.ServeHTTP(rec, req)
	var env struct {
		Errors []struct{ Message string } `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env), rec.Body.String())
	require.NotEmpty(t, env.Errors, "the API accepted it: %s", rec.Body.String())
	return rec.Code, env.Errors[0].Message
}

func TestNamespaces(t *testing.T) {
	t.Parallel()
	s := newSite(t, "")
	p := s.get(t, "/")
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, nsID)

	p = s.post(t, "/namespaces", url.Values{"title": {"dev"}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	var created string
	for _, info := range s.srv.Namespaces() {
		if info.Title == "dev" {
			created = info.ID
		}
	}
	require.NotEmpty(t, created, "created through the API")
	assert.Equal(t, "/ns/"+created+"?", p.url, "lands on the new namespace")

	for title, want := range map[string]string{"dev": "already exists", "": "title is required", strings.Repeat("t", 513): "limit is 512"} {
		p = s.post(t, "/namespaces", url.Values{"title": {title}})
		assert.Equal(t, http.StatusBadRequest, p.status, title)
		assert.Contains(t, byID(t, p.body, "error"), want)
	}
	assert.Len(t, s.srv.Namespaces(), 2, "no namespace made by a rejected create")

	p = s.post(t, "/ns/"+created+"/delete", nil)
	require.Equal(t, http.StatusOK, p.status)
	_, ok := s.srv.Namespace(created)
	assert.False(t, ok)
	p = s.get(t, "/ns/"+created)
	assert.Equal(t, http.StatusNotFound, p.status)
}

func TestViewer(t *testing.T) {
	t.Parallel()
	s := newSite(t, "")
	p := s.put(t, nsID, map[string]string{"key": "config/site?x", "value": `{"b":[1,2],"a":"x"}`, "ttl": "2h", "metadata": `{"owner":"ana"}`}, nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Equal(t, "/ns/"+nsID+"/key?key=config%2Fsite%3Fx", p.url, "lands on the key")
	assert.Equal(t, "{\n  \"b\": [\n    1,\n    2\n  ],\n  \"a\": \"x\"\n}", byID(t, p.body, "value"), "JSON is pretty-printed, in its order")
	assert.Equal(t, "json", byID(t, p.body, "kind"))
	assert.Equal(t, "{\n  \"owner\": \"ana\"\n}", byID(t, p.body, "metadata"))
	exp := kvtest.Epoch.Add(2 * time.Hour)
	assert.Equal(t, exp.UTC().Format(time.RFC3339), byID(t, p.body, "expiration"))
	assert.Equal(t, "in 2 h 0 m", byID(t, p.body, "expiration-rel"))
	stored, _ := s.value(t, nsID, "config/site?x")
	assert.Equal(t, `{"b":[1,2],"a":"x"}`, stored, "stored as typed")

	// Text, with the browser's CRLF line ends stored as LF.
	p = s.put(t, nsID, map[string]string{"key": "greeting", "value": "hello\r\nworld"}, nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Equal(t, "text", byID(t, p.body, "kind"))
	assert.Equal(t, "hello\nworld", byID(t, p.body, "value"))
	assert.Equal(t, "never", byID(t, p.body, "expires"))
	stored, _ = s.value(t, nsID, "greeting")
	assert.Equal(t, "hello\nworld", stored)

	// Binary, from a file: size and hex.
	bin := append([]byte{0, 1, 0xff, 'A'}, bytes.Repeat([]byte{7}, 20)...)
	p = s.put(t, nsID, map[string]string{"key": "blob", "expiration": strconv.FormatInt(kvtest.Epoch.Add(time.Hour).Unix(), 10)}, bin)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Equal(t, "binary", byID(t, p.body, "kind"))
	assert.Contains(t, byID(t, p.body, "size"), "24 bytes")
	assert.Equal(t, "00000000  00 01 ff 41 07 07 07 07  07 07 07 07 07 07 07 07  |...A............|\n"+
		"00000010  07 07 07 07 07 07 07 07                           |........|\n", byID(t, p.body, "value"))
	assert.Equal(t, "in 1 h 0 m", byID(t, p.body, "expiration-rel"))
	stored, _ = s.value(t, nsID, "blob")
	assert.Equal(t, string(bin), stored, "the file's bytes, exactly")

	// The relative time moves with the clock.
	s.clock.Advance(59*time.Minute + 30*time.Second)
	p = s.get(t, "/ns/"+nsID+"/key?key=blob")
	assert.Equal(t, "in 30 s", byID(t, p.body, "expiration-rel"))

	// Edit keeps what the form sends: a new value without metadata.
	p = s.put(t, nsID, map[string]string{"from": "key", "key": "config/site?x", "value": `[1]`}, nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Equal(t, "none", byID(t, p.body, "metadata"))

	// Delete.
	p = s.post(t, "/ns/"+nsID+"/delete-key", url.Values{"key": {"config/site?x"}})
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, byID(t, p.body, "notice"), `Deleted "config/site?x"`)
	_, found := s.value(t, nsID, "config/site?x")
	assert.False(t, found)
	assert.Equal(t, http.StatusNotFound, s.get(t, "/ns/"+nsID+"/key?key=config%2Fsite%3Fx").status)
}

// Bad input gets the error the API gives for the same request, with its
// status, and nothing is written: neither a new key nor over an old one.
func TestBadInputIsTheAPIsError(t *testing.T) {
	t.Parallel()
	s := newSite(t, "")
	require.NoError(t, s.ns(t, nsID).Put(context.Background(), "keep", []byte("old"), kv.PutOptions{}))
	big := bytes.Repeat([]byte("x"), kv.MaxValueSize+1)
	for _, c := range []struct {
		name   string
		fields map[string]string
		file   []byte
		// the same request to the API
		path        string
		q           url.Values
		contentType string
		body        []byte
		want        string
	}{
		{name: "dot key", fields: map[string]string{"key": ".", "value": "v"}, path: "/values/.", body: []byte("v"), want: `"." and ".." are not allowed`},
		{name: "513-byte key", fields: map[string]string{"key": strings.Repeat("k", 513), "value": "v"}, path: "/values/" + strings.Repeat("k", 513), body: []byte("v"), want: "key is 513 bytes, limit is 512"},
		{name: "value over 25 MiB", fields: map[string]string{"key": "keep"}, file: big, path: "/values/keep", body: big, want: "value is 26214401 bytes, limit is 26214400"},
		{name: "TTL under 60 s", fields: map[string]string{"key": "keep", "value": "new", "ttl": "30"}, path: "/values/keep", q: url.Values{"expiration_ttl": {"30"}}, body: []byte("new"), want: "must be at least 60s"},
		{name: "TTL not a number", fields: map[string]string{"key": "keep", "value": "new", "ttl": "soon"}, path: "/values/keep", q: url.Values{"expiration_ttl": {"soon"}}, body: []byte("new"), want: "Invalid expiration_ttl of soon"},
		{name: "expiration in 30 s", fields: map[string]string{"key": "keep", "value": "new", "expiration": strconv.FormatInt(kvtest.Epoch.Unix()+30, 10)}, path: "/values/keep", q: url.Values{"expiration": {strconv.FormatInt(kvtest.Epoch.Unix()+30, 10)}}, body: []byte("new"), want: "at least 60 seconds in the future"},
		{name: "bad JSON metadata", fields: map[string]string{"key": "keep", "value": "new", "metadata": "{"}, path: "/values/keep", contentType: "multipart", want: "metadata must be valid json"},
		{name: "metadata over 1 KiB", fields: map[string]string{"key": "keep", "value": "new", "metadata": `"` + strings.Repeat("m", 1100) + `"`}, path: "/values/keep", contentType: "multipart", want: "limit is 1024"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, contentType := c.body, c.contentType
			if contentType == "multipart" {
				var b bytes.Buffer
				mw := multipart.NewWriter(&b)
				_ = mw.WriteField("value", c.fields["value"])
				_ = mw.WriteField("metadata", c.fields["metadata"])
				_ = mw.Close()
				body, contentType = b.Bytes(), mw.FormDataContentType()
			}
			apiStatus, apiMsg := s.apiError(t, http.MethodPut, "/"+nsID+c.path, c.q, contentType, body)
			require.Contains(t, apiMsg, c.want, "the API's own message")

			p := s.put(t, nsID, c.fields, c.file)
			assert.Equal(t, apiStatus, p.status)
			assert.Equal(t, apiMsg, byID(t, p.body, "error"), "the dashboard shows the API's error")
			old, _ := s.value(t, nsID, "keep")
			assert.Equal(t, "old", old, "nothing written over the old value")
			assert.Equal(t, 1, s.ns(t, nsID).Len(), "no key written")
		})
	}
	t.Run("empty key", func(t *testing.T) {
		p := s.put(t, nsID, map[string]string{"key": "", "value": "v"}, nil)
		assert.Equal(t, http.StatusBadRequest, p.status)
		assert.Equal(t, "kv: put: invalid key: empty key", byID(t, p.body, "error"))
	})
	t.Run("expiration that is not a time", func(t *testing.T) {
		p := s.put(t, nsID, map[string]string{"key": "keep", "value": "new", "expiration": "tomorrow"}, nil)
		assert.Equal(t, http.StatusBadRequest, p.status)
		assert.Contains(t, byID(t, p.body, "error"), `Invalid expiration of "tomorrow"`)
		old, _ := s.value(t, nsID, "keep")
		assert.Equal(t, "old", old)
	})
	t.Run("error on the key page keeps the form", func(t *testing.T) {
		p := s.put(t, nsID, map[string]string{"from": "key", "key": "keep", "value": "typed", "ttl": "5"}, nil)
		assert.Equal(t, http.StatusBadRequest, p.status)
		assert.Equal(t, "old", byID(t, p.body, "value"), "the stored value, still")
		assert.Equal(t, "typed", byID(t, p.body, "put-value"), "what was typed, to fix")
	})
}

func TestKeysPaging(t *testing.T) {
	t.Parallel()
	s := newSite(t, "")
	ns := s.ns(t, nsID)
	for i := range 120 {
		require.NoError(t, ns.Put(context.Background(), fmt.Sprintf("user:%03d", i), []byte("v"), kv.PutOptions{}))
	}
	require.NoError(t, ns.Put(context.Background(), "other", []byte("v"), kv.PutOptions{}))
	rows := regexp.MustCompile(`<tr data-key="([^"]+)"`)
	next := regexp.MustCompile(`id="next" href="([^"]+)"|href="([^"]+)" id="next"`)
	var seen []string
	path := "/ns/" + nsID + "?prefix=user:"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		p := s.get(t, path)
		require.Equal(t, http.StatusOK, p.status)
		for _, m := range rows.FindAllStringSubmatch(p.body, -1) {
			seen = append(seen, m[1])
		}
		m := next.FindStringSubmatch(p.body)
		if m == nil {
			break
		}
		path = unescape(m[1] + m[2])
	}
	require.Len(t, seen, 120, "every key under the prefix once, in pages of 50")
	assert.Equal(t, "user:000", seen[0])
	assert.Equal(t, "user:119", seen[119])

	p := s.get(t, "/ns/"+nsID+"?cursor=forged")
	assert.Equal(t, http.StatusBadRequest, p.status)
	assert.Contains(t, byID(t, p.body, "error"), "invalid list cursor")
}

func TestFlags(t *testing.T) {
	t.Parallel()
	s := newSite(t, "")
	const user = "alice"
	bucket := flags.Bucket("new-ui", user) // 9.97...
	below := strconv.FormatFloat(bucket-1, 'f', 2, 64)
	above := strconv.FormatFloat(bucket+1, 'f', 2, 64)

	p := s.post(t, "/ns/"+nsID+"/flags", url.Values{"name": {"new-ui"}, "enabled": {"on"}, "rollout": {below}, "user": {user}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Equal(t, "/ns/"+nsID+"/flags?user=alice", p.url)
	decision := regexp.MustCompile(`(?s)<tr data-flag="new-ui">.*?class="num bucket">([^<]+)<.*?class="decision (on|off)"`)
	m := decision.FindStringSubmatch(p.body)
	require.NotNil(t, m, p.body)
	assert.Equal(t, strconv.FormatFloat(bucket, 'f', 4, 64), m[1], "the bucket Go and TypeScript compute")
	assert.Equal(t, "off", m[2], "bucket above the rollout")
	stored, _ := s.value(t, nsID, "flag:new-ui")
	assert.JSONEq(t, `{"enabled":true,"rolloutPercent":`+below+`,"allowlist":[]}`, stored, "the recipe's JSON")

	// Raise the rollout past the user's bucket: the answer changes, and the
	// allowlist, set elsewhere, is kept.
	require.NoError(t, s.ns(t, nsID).Put(context.Background(), "flag:new-ui", []byte(`{"enabled":true,"rolloutPercent":`+below+`,"allowlist":["bob"]}`), kv.PutOptions{}))
	p = s.post(t, "/ns/"+nsID+"/flags", url.Values{"name": {"new-ui"}, "enabled": {"on"}, "rollout": {above}, "user": {user}})
	require.Equal(t, http.StatusOK, p.status)
	m = decision.FindStringSubmatch(p.body)
	require.NotNil(t, m)
	assert.Equal(t, "on", m[2], "bucket below the rollout")
	stored, _ = s.value(t, nsID, "flag:new-ui")
	assert.JSONEq(t, `{"enabled":true,"rolloutPercent":`+above+`,"allowlist":["bob"]}`, stored)

	// Unchecked "on" turns it off for everyone.
	p = s.post(t, "/ns/"+nsID+"/flags", url.Values{"name": {"new-ui"}, "rollout": {above}, "user": {user}})
	m = decision.FindStringSubmatch(p.body)
	require.NotNil(t, m)
	assert.Equal(t, "off", m[2])
	assert.Contains(t, p.body, "(disabled)")

	// Bad rollouts are flags' own errors, and change nothing.
	before, _ := s.value(t, nsID, "flag:new-ui")
	for rollout, want := range map[string]string{"150": "rolloutPercent 150 is not in 0..100", "-1": "not in 0..100", "NaN": "not in 0..100", "lots": "is not a number"} {
		p = s.post(t, "/ns/"+nsID+"/flags", url.Values{"name": {"new-ui"}, "enabled": {"on"}, "rollout": {rollout}})
		assert.Equal(t, http.StatusBadRequest, p.status, rollout)
		assert.Contains(t, byID(t, p.body, "error"), want, rollout)
	}
	p = s.post(t, "/ns/"+nsID+"/flags", url.Values{"name": {""}, "rollout": {"5"}})
	assert.Equal(t, http.StatusBadRequest, p.status, "empty name")
	after, _ := s.value(t, nsID, "flag:new-ui")
	assert.Equal(t, before, after)
}

func TestCountersAndSessions(t *testing.T) {
	t.Parallel()
	s := newSite(t, "")
	ctx := context.Background()
	ns := s.ns(t, nsID)
	require.NoError(t, ns.Put(ctx, "count:views", []byte("42"), kv.PutOptions{}))
	require.NoError(t, ns.Put(ctx, "count:api:host-a", []byte("7"), kv.PutOptions{TTL: time.Hour}))
	require.NoError(t, ns.Put(ctx, "count:broken", []byte("x"), kv.PutOptions{}))
	p := s.get(t, "/ns/"+nsID+"/counters")
	require.Equal(t, http.StatusOK, p.status)
	for name, v := range map[string]string{"views": "42", "api:host-a": "7"} {
		assert.Regexp(t, `(?s)data-counter="`+regexp.QuoteMeta(name)+`">.*?class="num value">`+v+`<`, p.body)
	}
	assert.Contains(t, p.body, `title="not decimal text">x<`)

	type user struct{ Name string }
	mgr, err := session.New[user](ns, session.Options{Clock: s.clock.Now, Lifetime: time.Hour, IdleTimeout: 10 * time.Minute})
	require.NoError(t, err)
	var tokens []string
	for _, name := range []string{"ana", "bo", "cy"} {
		sess := mgr.Open("")
		require.NoError(t, sess.Set(ctx, user{name}))
		cookie, err := sess.Commit(ctx)
		require.NoError(t, err)
		tokens = append(tokens, cookie.Value)
	}
	gone := mgr.Open(tokens[2])
	require.NoError(t, gone.Destroy(ctx))
	_, err = gone.Commit(ctx)
	require.NoError(t, err)
	p = s.get(t, "/ns/"+nsID+"/sessions")
	require.Equal(t, http.StatusOK, p.status)
	assert.Equal(t, "2", byID(t, p.body, "session-count"))
	assert.Contains(t, p.body, "in 10 m", "the idle deadline")
	for _, tok := range tokens {
		assert.NotContains(t, p.body, tok, "never a token")
	}

	// Past the idle timeout the sessions are no longer live.
	s.clock.Advance(11 * time.Minute)
	p = s.get(t, "/ns/"+nsID+"/sessions")
	assert.Equal(t, "0", byID(t, p.body, "session-count"))
}

func TestLogin(t *testing.T) {
	t.Parallel()
	s := newSite(t, "s3cret")
	p := s.get(t, "/ns/"+nsID+"/flags")
	assert.Equal(t, "/login?next=%2Fns%2F"+nsID+"%2Fflags", p.url, "pages need the token")
	p = s.post(t, "/namespaces", url.Values{"title": {"x"}})
	assert.Equal(t, http.StatusUnauthorized, p.status, "so do forms")
	assert.Len(t, s.srv.Namespaces(), 1)

	p = s.post(t, "/login", url.Values{"token": {"wrong"}, "next": {"/ns/" + nsID}})
	assert.Equal(t, http.StatusUnauthorized, p.status)
	assert.Contains(t, byID(t, p.body, "error"), "not the server's token")

	p = s.post(t, "/login", url.Values{"token": {"s3cret"}, "next": {"/ns/" + nsID + "/flags"}})
	require.Equal(t, http.StatusOK, p.status)
	assert.Equal(t, "/ns/"+nsID+"/flags?", p.url, "back where the user was going")
	u, _ := url.Parse(s.url)
	cookies := s.hc.Jar.Cookies(u)
	require.Len(t, cookies, 1)
	assert.NotContains(t, cookies[0].Value, "s3cret", "the cookie is not the token")
	p = s.post(t, "/namespaces", url.Values{"title": {"x"}})
	assert.Equal(t, http.StatusOK, p.status, "the dashboard's own API calls carry the token")
	assert.Len(t, s.srv.Namespaces(), 2)

	// Bearer works without the cookie (scripts); an open redirect does not.
	req, _ := http.NewRequest(http.MethodGet, s.url+"/", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	res, err := s.hc.Transport.RoundTrip(req) // no cookie jar
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	p = s.post(t, "/login", url.Values{"token": {"s3cret"}, "next": {"//evil.example/"}})
	assert.Equal(t, "/?", p.url)

	p = s.post(t, "/logout", nil)
	assert.Equal(t, "/login?", p.url)
	p = s.get(t, "/")
	assert.True(t, strings.HasPrefix(p.url, "/login"), "signed out")
}

func TestCrossOriginFormsRefused(t *testing.T) {
	t.Parallel()
	s := newSite(t, "")
	req, _ := http.NewRequest(http.MethodPost, s.url+"/namespaces", strings.NewReader("title=evil"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := s.hc.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Len(t, s.srv.Namespaces(), 1, "nothing created")
}
