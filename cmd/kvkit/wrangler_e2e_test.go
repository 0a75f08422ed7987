//go:build e2e

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv/kvserver"
)

// wranglerOps is how many wrangler commands TestWrangler runs (the issue's
// closing note quotes it): checked at the end so the count stays true.
const wranglerOps = 24

// TestWrangler drives wrangler 4.86.0 against kvkit serve through its
// documented variables (CLOUDFLARE_API_BASE_URL, CLOUDFLARE_API_TOKEN,
// CLOUDFLARE_ACCOUNT_ID) and checks what each command prints and what the
// server then holds.
func TestWrangler(t *testing.T) {
	if testing.Short() {
		t.Skip("starts wrangler 24 times: about a minute (CI runs it)")
	}
	t.Parallel()
	dir := e2eDir(t)
	s := newSink(t)
	p := startServe(t, "--token", "s3cret")
	base := p.env["CLOUDFLARE_API_BASE_URL"]
	w := &node{t: t, dir: t.TempDir(), env: append(offlineEnv(t, s),
		"CLOUDFLARE_API_BASE_URL="+base,
		"CLOUDFLARE_API_TOKEN=s3cret",
		"CLOUDFLARE_ACCOUNT_ID="+kvserver.DefaultAccountID,
	)}
	bin := filepath.Join(dir, "node_modules", ".bin", "wrangler")
	wr := func(args ...string) (int, string, string) { return w.run(nil, bin, args...) }
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := wr(args...)
		require.Equal(t, 0, code, "wrangler %v\nstdout: %s\nstderr: %s", args, out, errOut)
		return out
	}
	oks := func(rs []result) []string {
		t.Helper()
		outs := make([]string, len(rs))
		for i, r := range rs {
			require.Equal(t, 0, r.code, "command %d\nstdout: %s\nstderr: %s", i, r.out, r.errOut)
			outs[i] = r.out
		}
		return outs
	}
	file := func(name, content string) string {
		path := filepath.Join(w.dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		return path
	}
	hc := &http.Client{}
	t.Cleanup(hc.CloseIdleConnections)
	api := func(path string) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/accounts/"+kvserver.DefaultAccountID+"/storage/kv/namespaces"+path, nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		res, err := hc.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b, res.Header
	}

	// Namespaces: create, a duplicate title, list, rename.
	out := ok("kv", "namespace", "create", "e2e-ns")
	assert.Contains(t, out, "Success!")
	m := regexp.MustCompile(`"id": "([0-9a-f]{32})"`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	id := m[1]
	code, _, errOut := wr("kv", "namespace", "create", "e2e-ns")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `A KV namespace with the title "e2e-ns" already exists.`, "wrangler's message for code 10014")

	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	require.NoError(t, json.Unmarshal([]byte(ok("kv", "namespace", "list")), &list))
	assert.Equal(t, []string{"e2e-ns", "kvkit"}, titles(list), "by title, the default namespace included")

	out = ok("kv", "namespace", "rename", "e2e-ns", "--new-name", "e2e-renamed")
	assert.Contains(t, out, `Successfully renamed namespace to "e2e-renamed"`)

	// Keys: put with --ttl and --metadata, a binary --path with
	// --expiration, keys that need escaping and non-ASCII ones (three
	// independent puts, then three gets, at once).
	const odd, intl = "a/b?c#d %", "ünï/😀 key"
	binary := []byte{0, 1, 0xff, 0xfe, 'k', 'v', 0x80}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	puts := oks(w.parallel(bin,
		[]string{"kv", "key", "put", odd, "hello", "--namespace-id", id, "--remote", "--ttl", "120", "--metadata", `{"m":1}`},
		[]string{"kv", "key", "put", "bin", "--path", file("bin.dat", string(binary)), "--namespace-id", id, "--remote", "--expiration", unix(exp)},
		[]string{"kv", "key", "put", intl, "grüße", "--namespace-id", id, "--remote"},
	))
	assert.Contains(t, puts[0], `Writing the value "hello" to key "a/b?c#d %" on namespace id: "`+id+`" with metadata "{"m":1}".`)
	assert.Contains(t, puts[1], `Writing the contents of `)
	assert.Contains(t, puts[2], `Writing the value "grüße" to key "ünï/😀 key"`)

	gets := oks(w.parallel(bin,
		[]string{"kv", "key", "get", odd, "--namespace-id", id, "--remote"},
		[]string{"kv", "key", "get", "bin", "--namespace-id", id, "--remote"},
		[]string{"kv", "key", "get", intl, "--namespace-id", id, "--remote"},
	))
	assert.Equal(t, "hello", strings.TrimSuffix(gets[0], "\n"))
	assert.Equal(t, binary, []byte(gets[1]), "the exact bytes back")
	assert.Equal(t, "grüße", strings.TrimSuffix(gets[2], "\n"))

	// What wrangler stored is what it said: the server's own view.
	status, body, hdr := api("/" + id + "/values/" + url.PathEscape(odd))
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "hello", string(body))
	ttlExp := hdr.Get("Expiration")
	_, body, _ = api("/" + id + "/metadata/" + url.PathEscape(odd))
	assert.JSONEq(t, `{"success":true,"errors":[],"messages":[],"result":{"m":1}}`, string(body))

	lists := oks(w.parallel(bin,
		[]string{"kv", "key", "list", "--namespace-id", id, "--remote"},
		[]string{"kv", "key", "list", "--namespace-id", id, "--remote", "--prefix", "a/"},
	))
	var keys []listedKey
	require.NoError(t, json.Unmarshal([]byte(lists[0]), &keys))
	require.Len(t, keys, 3)
	assert.Equal(t, []string{odd, "bin", intl}, names(keys), "UTF-8 byte order")
	assert.Equal(t, ttlExp, strconv.FormatInt(keys[0].Expiration, 10), "the TTL's absolute expiration")
	assert.JSONEq(t, `{"m":1}`, string(keys[0].Metadata))
	assert.Equal(t, exp.Unix(), keys[1].Expiration)
	assert.Zero(t, keys[2].Expiration)
	require.NoError(t, json.Unmarshal([]byte(lists[1]), &keys))
	assert.Equal(t, []string{odd}, names(keys))

	out = ok("kv", "key", "delete", "bin", "--namespace-id", id, "--remote")
	assert.Contains(t, out, `Deleting the key "bin"`)
	code, _, errOut = wr("kv", "key", "get", "bin", "--namespace-id", id, "--remote")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "404: Not Found", "a missing key")

	// Bulk put, get (in request order) and delete from JSON files.
	out = ok("kv", "bulk", "put", file("bulk.json", `[
		{"key": "zeta", "value": "1"},
		{"key": "alpha", "value": "2", "metadata": {"m": 2}, "expiration_ttl": 3600},
		{"key": "mid", "value": "AAH/", "base64": true}
	]`), "--namespace-id", id, "--remote")
	assert.Contains(t, out, "Success!")
	out = ok("kv", "bulk", "get", file("keys.json", `["zeta", "alpha", "missing", "mid"]`), "--namespace-id", id, "--remote")
	got := strings.TrimSuffix(strings.TrimSpace(out), "Success!")
	assert.JSONEq(t, `{"zeta": "1", "alpha": "2", "missing": null, "mid": "\u0000\u0001\ufffd"}`, got)
	assert.Regexp(t, `(?s)"zeta".*"alpha".*"missing".*"mid"`, got, "printed in the order asked")
	out = ok("kv", "bulk", "delete", file("keys.json", `["zeta", "alpha", "missing", "mid"]`), "--namespace-id", id, "--remote", "--force")
	assert.Contains(t, out, "Success!")
	require.NoError(t, json.Unmarshal([]byte(ok("kv", "key", "list", "--namespace-id", id, "--remote")), &keys))
	assert.Equal(t, []string{odd, intl}, names(keys))

	// Delete the namespace: it is gone for every endpoint, as on
	// Cloudflare, and so is a namespace nobody created.
	out = ok("kv", "namespace", "delete", "--namespace-id", id, "--skip-confirmation")
	assert.Contains(t, out, "Deleted KV namespace")
	after := w.parallel(bin,
		[]string{"kv", "key", "list", "--namespace-id", id, "--remote"},
		[]string{"kv", "key", "put", "k", "v", "--namespace-id", "0123456789abcdef0123456789abcdef", "--remote"},
		[]string{"kv", "namespace", "list"},
	)
	for _, r := range after[:2] {
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.errOut, "namespace not found [code: 10013]")
	}
	status, _, _ = api("/0123456789abcdef0123456789abcdef")
	assert.Equal(t, http.StatusNotFound, status, "and nothing was created on the way")
	require.Equal(t, 0, after[2].code, after[2].errOut)
	require.NoError(t, json.Unmarshal([]byte(after[2].out), &list))
	assert.Equal(t, []string{"kvkit"}, titles(list))

	// The legacy global API key form (CLOUDFLARE_API_KEY + CLOUDFLARE_EMAIL
	// become X-Auth-Key + X-Auth-Email) is accepted; a wrong token is not.
	w.env = withoutVar(w.env, "CLOUDFLARE_API_TOKEN")
	var legacy, wrong result
	var wg sync.WaitGroup
	wg.Go(func() {
		legacy.code, legacy.out, legacy.errOut = w.run([]string{"CLOUDFLARE_API_KEY=s3cret", "CLOUDFLARE_EMAIL=dev@example.com"}, bin, "kv", "namespace", "list")
	})
	wg.Go(func() {
		wrong.code, wrong.out, wrong.errOut = w.run([]string{"CLOUDFLARE_API_TOKEN=wrong"}, bin, "kv", "namespace", "list")
	})
	wg.Wait()
	require.Equal(t, 0, legacy.code, legacy.errOut)
	assert.Contains(t, legacy.out, `"title": "kvkit"`)
	assert.Equal(t, 1, wrong.code)
	assert.Contains(t, wrong.errOut, "Authentication error [code: 10000]")

	assert.Equal(t, int64(wranglerOps), w.ops.Load(), "wrangler commands run")
	assert.Zero(t, s.hits.Load(), "wrangler reached for nothing but the server")
	t.Logf("wrangler: %d commands against kvkit serve", w.ops.Load())
}

func titles(list []struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}) []string {
	out := make([]string, len(list))
	for i, n := range list {
		out[i] = n.Title
	}
	return out
}

// listedKey is one key of `wrangler kv key list`.
type listedKey struct {
	Name       string          `json:"name"`
	Expiration int64           `json:"expiration"`
	Metadata   json.RawMessage `json:"metadata"`
}

func names(keys []listedKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Name
	}
	return out
}

func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
