//go:build e2e

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv/kvserver"
)

// sdkOps is how many SDK calls e2e/kvserver-sdk.mjs makes (the issue's
// closing note quotes it; an auto-paging call counts once).
const sdkOps = 33

// TestTypeScriptSDK runs e2e/kvserver-sdk.mjs, the official TypeScript SDK
// through every KV operation (cursor paging over 2,500 keys, keys such as
// "a/b?c#d %" and non-ASCII ones), against kvkit serve. The script checks
// each answer; this test checks it ran to the end.
func TestTypeScriptSDK(t *testing.T) {
	t.Parallel()
	dir := e2eDir(t)
	s := newSink(t)
	p := startServe(t, "--token", "s3cret")
	n := &node{t: t, dir: dir, env: append(offlineEnv(t, s),
		"CLOUDFLARE_BASE_URL="+p.env["CLOUDFLARE_BASE_URL"],
		"CLOUDFLARE_API_TOKEN=s3cret",
		"CLOUDFLARE_ACCOUNT_ID="+kvserver.DefaultAccountID,
	)}
	code, out, errOut := n.run(nil, "node", filepath.Join(dir, "kvserver-sdk.mjs"))
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got struct{ Ops, Requests int }
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &got), out)
	assert.Equal(t, sdkOps, got.Ops, "SDK calls made")
	assert.Zero(t, s.hits.Load(), "the SDK reached for nothing but the server")
	t.Logf("TypeScript SDK: %d calls, %d HTTP requests against kvkit serve", got.Ops, got.Requests)
}
