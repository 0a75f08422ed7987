package kvserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	cfkv "github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/kv/kvtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const acc = "0123456789abcdef0123456789abcdef"

type envelope struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result     json.RawMessage `json:"result"`
	ResultInfo struct {
		Count  int    `json:"count"`
		Cursor string `json:"cursor"`
	} `json:"result_info"`
}

// do sends one raw request and decodes the envelope (when JSON).
func do(t *testing.T, h http.Handler, method, path, token string, body []byte) (*http.Response, []byte, envelope) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	raw, _ := io.ReadAll(res.Body)
	var env envelope
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &env), string(raw))
	}
	return res, raw, env
}

func TestRawAPI(t *testing.T) {
	t.Parallel()
	clock := kvtest.NewClock()
	srv, err := kvserver.New(kvserver.Options{Token: "tok", Clock: clock.Now})
	require.NoError(t, err)
	id := srv.CreateNamespace("", "test")
	base := "/client/v4/accounts/" + acc + "/storage/kv/namespaces/" + id

	t.Run("auth", func(t *testing.T) {
		res, _, env := do(t, srv, http.MethodGet, base+"/keys", "", nil)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
		require.Len(t, env.Errors, 1)
		assert.Equal(t, 10000, env.Errors[0].Code)
		res, _, _ = do(t, srv, http.MethodGet, base+"/keys", "nope", nil)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	})
	t.Run("missing key is 404 with code 10009", func(t *testing.T) {
		res, _, env := do(t, srv, http.MethodGet, base+"/values/nope", "tok", nil)
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
		require.Len(t, env.Errors, 1)
		assert.Equal(t, 10009, env.Errors[0].Code)
		assert.False(t, env.Success)
	})
	t.Run("raw put, expiration header, escaped key", func(t *testing.T) {
		res, _, env := do(t, srv, http.MethodPut, base+"/values/a%2Fb%3F?expiration_ttl=120", "tok", []byte("hello"))
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.True(t, env.Success)
		res, raw, _ := do(t, srv, http.MethodGet, base+"/values/a%2Fb%3F", "tok", nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "hello", string(raw))
		assert.Equal(t, "application/octet-stream", res.Header.Get("Content-Type"))
		assert.Equal(t, "1767225720", res.Header.Get("Expiration")) // Epoch + 120 s
		ns, _ := srv.Namespace(id)
		_, found, _ := ns.Get(context.Background(), "a/b?", kv.GetOptions{})
		assert.True(t, found, "the key is stored unescaped")
	})
	t.Run("limits map to KV's statuses", func(t *testing.T) {
		long := strings.Repeat("a", 513)
		res, _, _ := do(t, srv, http.MethodPut, base+"/values/"+long, "tok", []byte("v"))
		assert.Equal(t, http.StatusRequestURITooLong, res.StatusCode)
		res, _, env := do(t, srv, http.MethodPut, base+"/values/k?expiration_ttl=59", "tok", []byte("v"))
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Contains(t, env.Errors[0].Message, "at least 60")
		res, _, _ = do(t, srv, http.MethodPut, base+"/values/k", "tok", bytes.Repeat([]byte("x"), kv.MaxValueSize+1))
		assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
		res, _, _ = do(t, srv, http.MethodGet, base+"/keys?limit=1001", "tok", nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		// An unescaped "/" in a key is a different route, not a key.
		res, _, _ = do(t, srv, http.MethodGet, base+"/values/a/b", "tok", nil)
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
	})
	t.Run("bulk get json and text", func(t *testing.T) {
		body := `[{"key":"j","value":"{\"a\":1}","metadata":{"m":true}},{"key":"t","value":"text"},{"key":"b","value":"/w==","base64":true}]`
		res, _, env := do(t, srv, http.MethodPut, base+"/bulk", "tok", []byte(body))
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.JSONEq(t, `{"successful_key_count":3,"unsuccessful_keys":[]}`, string(env.Result))

		_, _, env = do(t, srv, http.MethodPost, base+"/bulk/get", "tok", []byte(`{"keys":["j","missing"],"type":"json","withMetadata":true}`))
		assert.JSONEq(t, `{"values":{"j":{"value":{"a":1},"metadata":{"m":true}},"missing":null}}`, string(env.Result))
		_, _, env = do(t, srv, http.MethodPost, base+"/bulk/get", "tok", []byte(`{"keys":["j","t","b"]}`))
		assert.JSONEq(t, `{"values":{"j":"{\"a\":1}","t":"text","b":"\ufffd"}}`, string(env.Result), "non-UTF-8 becomes U+FFFD, as in a Worker")
		res, _, _ = do(t, srv, http.MethodPost, base+"/bulk/get", "tok", []byte(`{"keys":["t"],"type":"json"}`))
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, "a non-JSON value with type json")
		res, _, _ = do(t, srv, http.MethodPost, base+"/bulk/get", "tok", []byte(`{"keys":[]}`))
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	})
	t.Run("list pages and empty pages", func(t *testing.T) {
		for i := range 10 {
			res, _, _ := do(t, srv, http.MethodPut, base+"/values/p"+strconv.Itoa(i), "tok", []byte("v"))
			require.Equal(t, http.StatusOK, res.StatusCode)
		}
		srv.Inject(kvserver.RouteListKeys, kvserver.Fault{EmptyPage: true})
		_, _, env := do(t, srv, http.MethodGet, base+"/keys?limit=10", "tok", nil)
		assert.JSONEq(t, `[]`, string(env.Result))
		require.NotEmpty(t, env.ResultInfo.Cursor)
		_, _, env = do(t, srv, http.MethodGet, base+"/keys?limit=10&cursor="+env.ResultInfo.Cursor, "tok", nil)
		assert.Contains(t, string(env.Result), `{"name":"a/b?","expiration":1767225720}`, "the empty page's cursor resumes at the start")
		assert.NotEmpty(t, env.ResultInfo.Cursor, "14 keys, 10 a page")
	})
	t.Run("unknown namespace", func(t *testing.T) {
		res, _, _ := do(t, srv, http.MethodGet, "/client/v4/accounts/"+acc+"/storage/kv/namespaces/ffff/keys", "tok", nil)
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
	})
}

func TestAutoCreate(t *testing.T) {
	t.Parallel()
	srv, err := kvserver.New(kvserver.Options{AutoCreate: true, AccountID: acc})
	require.NoError(t, err)
	res, _, _ := do(t, srv, http.MethodPut, "/accounts/"+acc+"/storage/kv/namespaces/abc/values/k", "", []byte("v"))
	assert.Equal(t, http.StatusOK, res.StatusCode)
	ns, ok := srv.Namespace("abc")
	require.True(t, ok)
	assert.Equal(t, 1, ns.Len())
	res, _, _ = do(t, srv, http.MethodGet, "/accounts/other/storage/kv/namespaces/abc/values/k", "", nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "another account")
}

func TestNamespacesThroughSDK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := kvserver.New(kvserver.Options{Token: "tok"})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	client := cfkv.NewKVService(option.WithBaseURL(ts.URL+"/client/v4"), option.WithAPIToken("tok"), option.WithHTTPClient(ts.Client()), option.WithMaxRetries(0))

	// The SDK's param fields are of an internal type: set them field by
	// field (its F helper lives in the root package, which kvkit avoids).
	var newP cfkv.NamespaceNewParams
	newP.AccountID.Value, newP.AccountID.Present = acc, true
	newP.Title.Value, newP.Title.Present = "first", true
	created, err := client.Namespaces.New(ctx, newP)
	require.NoError(t, err)
	assert.Len(t, created.ID, 32)
	assert.Equal(t, "first", created.Title)
	_, err = client.Namespaces.New(ctx, newP)
	var sdkErr interface{ DumpResponse(bool) []byte }
	require.ErrorAs(t, err, &sdkErr)
	assert.Contains(t, string(sdkErr.DumpResponse(true)), "10014", "duplicate title")

	var upP cfkv.NamespaceUpdateParams
	upP.AccountID.Value, upP.AccountID.Present = acc, true
	upP.Title.Value, upP.Title.Present = "renamed", true
	renamed, err := client.Namespaces.Update(ctx, created.ID, upP)
	require.NoError(t, err)
	assert.Equal(t, "renamed", renamed.Title)
	var getP cfkv.NamespaceGetParams
	getP.AccountID.Value, getP.AccountID.Present = acc, true
	got, err := client.Namespaces.Get(ctx, created.ID, getP)
	require.NoError(t, err)
	assert.Equal(t, "renamed", got.Title)
	assert.True(t, got.SupportsURLEncoding)

	var listP cfkv.NamespaceListParams
	listP.AccountID.Value, listP.AccountID.Present = acc, true
	page, err := client.Namespaces.List(ctx, listP)
	require.NoError(t, err)
	require.Len(t, page.Result, 1)
	assert.Equal(t, created.ID, page.Result[0].ID)

	var delP cfkv.NamespaceDeleteParams
	delP.AccountID.Value, delP.AccountID.Present = acc, true
	_, err = client.Namespaces.Delete(ctx, created.ID, delP)
	require.NoError(t, err)
	_, err = client.Namespaces.Get(ctx, created.ID, getP)
	require.ErrorAs(t, err, &sdkErr)
	assert.Contains(t, string(sdkErr.DumpResponse(false)), "404")
	assert.Equal(t, 7, srv.Hits(kvserver.RouteAny))
	assert.Equal(t, 2, srv.Hits(kvserver.RouteCreateNamespace))
}

func TestSaveLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := kvtest.NewClock()
	srv, err := kvserver.New(kvserver.Options{Clock: clock.Now})
	require.NoError(t, err)
	id := srv.CreateNamespace("", "saved")
	ns, _ := srv.Namespace(id)
	require.NoError(t, ns.Put(ctx, "forever", []byte{0, 0xff}, kv.PutOptions{Metadata: json.RawMessage(`{"a":1}`)}))
	require.NoError(t, ns.Put(ctx, "short", []byte("v"), kv.PutOptions{TTL: time.Minute}))
	require.NoError(t, ns.Put(ctx, "long", []byte("v"), kv.PutOptions{TTL: time.Hour}))

	var buf bytes.Buffer
	require.NoError(t, srv.Save(&buf))

	clock.Advance(2 * time.Minute) // "short" expires while the server is down
	again, err := kvserver.New(kvserver.Options{Clock: clock.Now})
	require.NoError(t, err)
	require.NoError(t, again.Load(bytes.NewReader(buf.Bytes())))
	ns2, ok := again.Namespace(id)
	require.True(t, ok)
	assert.Equal(t, 2, ns2.Len())
	it, found, err := ns2.Get(ctx, "forever", kv.GetOptions{WithMetadata: true})
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, []byte{0, 0xff}, it.Value)
	assert.JSONEq(t, `{"a":1}`, string(it.Metadata))
	it, _, _ = ns2.Get(ctx, "long", kv.GetOptions{})
	assert.Equal(t, kvtest.Epoch.Add(time.Hour).Unix(), it.Expiration.Unix())

	require.Error(t, again.Load(strings.NewReader(`{"version":99}`)))
	require.Error(t, again.Load(strings.NewReader(`{"version":1,"namespaces":[{"id":"x","entries":[{"key":"..","value":""}]}]}`)))
	_, ok = again.Namespace("x")
	assert.False(t, ok, "a bad file loads nothing")
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := kvserver.New(kvserver.Options{Token: "has space"})
	require.Error(t, err)
}

func TestMultipartPut(t *testing.T) {
	t.Parallel()
	srv, err := kvserver.New(kvserver.Options{})
	require.NoError(t, err)
	id := srv.CreateNamespace("", "mp")
	url := "/accounts/" + acc + "/storage/kv/namespaces/" + id + "/values/k"
	send := func(fields map[string]string, file string) *http.Response {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range fields {
			require.NoError(t, mw.WriteField(k, v))
		}
		if file != "" {
			fw, err := mw.CreateFormFile("value", "anonymous_file")
			require.NoError(t, err)
			_, _ = fw.Write([]byte(file))
		}
		require.NoError(t, mw.Close())
		req := httptest.NewRequest(http.MethodPut, url, &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Result()
	}
	ns, _ := srv.Namespace(id)

	require.Equal(t, http.StatusOK, send(nil, "from a file part").StatusCode)
	it, _, _ := ns.Get(context.Background(), "k", kv.GetOptions{WithMetadata: true})
	assert.Equal(t, "from a file part", string(it.Value))
	assert.Nil(t, it.Metadata)

	require.Equal(t, http.StatusOK, send(map[string]string{"value": "v", "metadata": `{"a":1}`}, "").StatusCode)
	it, _, _ = ns.Get(context.Background(), "k", kv.GetOptions{WithMetadata: true})
	assert.Equal(t, "v", string(it.Value))
	assert.JSONEq(t, `{"a":1}`, string(it.Metadata))

	assert.Equal(t, http.StatusBadRequest, send(map[string]string{"value": "x", "metadata": ""}, "").StatusCode, "empty metadata is not JSON")
	assert.Equal(t, http.StatusBadRequest, send(map[string]string{"metadata": `{}`}, "").StatusCode, "no value")
	it, _, _ = ns.Get(context.Background(), "k", kv.GetOptions{})
	assert.Equal(t, "v", string(it.Value), "rejected puts change nothing")
}
