//go:build e2e

package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The e2e tests drive Cloudflare's own clients (wrangler and the
// TypeScript SDK, pinned in e2e/package.json, installed by .ci/run with
// npm ci) against a real `kvkit serve`. They fail, never skip, without
// Node or the packages.

// e2eDir returns the repository's e2e/ folder, checking that its packages
// are installed.
func e2eDir(t *testing.T) string {
	t.Helper()
	_, err := exec.LookPath("node")
	require.NoError(t, err, "Node is needed for the e2e tests (.ci/run has it)")
	dir, err := filepath.Abs(filepath.Join("..", "..", "e2e"))
	require.NoError(t, err)
	for _, p := range []string{"node_modules/.bin/wrangler", "node_modules/cloudflare/package.json"} {
		_, err := os.Stat(filepath.Join(dir, p))
		require.NoError(t, err, "run `npm ci` in e2e/ (.ci/run does)")
	}
	return dir
}

// sink stands in for every host but the server: the clients' proxy and
// npm registry point at it, so a request meant for the internet stays on
// loopback and is counted. The tests require it to see nothing.
type sink struct {
	*httptest.Server
	hits atomic.Int64
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		t.Logf("a client tried to reach %s %s (Host %s)", r.Method, r.URL, r.Host)
		http.Error(w, "tests stay on loopback", http.StatusServiceUnavailable)
	}))
	t.Cleanup(s.Close)
	return s
}

// offlineEnv is the environment that keeps a Node client on loopback and
// out of the user's files: a private HOME and TMPDIR, wrangler's telemetry,
// error reports and banner (its update check) off, the proxy and the npm
// registry (update-check's other path) on the sink, and update-check's
// cache seeded as fresh so it never looks.
func offlineEnv(t *testing.T, s *sink) []string {
	t.Helper()
	home := t.TempDir()
	tmp := filepath.Join(home, "tmp")
	require.NoError(t, os.MkdirAll(filepath.Join(tmp, "update-check"), 0o755))
	seed, _ := json.Marshal(map[string]any{"latest": "4.86.0", "lastUpdate": time.Now().UnixMilli()})
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "update-check", "wrangler-latest.json"), seed, 0o644))
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"TMPDIR=" + tmp,
		"WRANGLER_SEND_METRICS=false",
		"WRANGLER_SEND_ERROR_REPORTS=false",
		"WRANGLER_HIDE_BANNER=true",
		"HTTPS_PROXY=" + s.URL, "HTTP_PROXY=" + s.URL, "https_proxy=" + s.URL, "http_proxy=" + s.URL,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
		"npm_config_registry=" + s.URL + "/",
		"NO_COLOR=1", "FORCE_COLOR=0",
		"NODE_OPTIONS=",
	}
}

// node runs Node client commands and counts them. run is safe to call
// from several goroutines (independent commands run in parallel: each
// wrangler start costs seconds).
type node struct {
	t   *testing.T
	dir string   // working directory
	env []string // the whole environment
	ops atomic.Int64
}

// run runs one command with n.env plus env. A command that cannot start at
// all reports code -1 and the error as its stderr.
func (n *node) run(env []string, name string, args ...string) (code int, stdout, stderr string) {
	cmd := exec.Command(name, args...)
	cmd.Dir = n.dir
	cmd.Env = append(append([]string{}, n.env...), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	n.ops.Add(1)
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		return -1, out.String(), err.Error()
	}
	return 0, out.String(), errb.String()
}

// result is one command's outcome.
type result struct {
	code        int
	out, errOut string
}

// parallel runs independent commands at once, in argument order of the
// results.
func (n *node) parallel(name string, cmds ...[]string) []result {
	res := make([]result, len(cmds))
	var wg sync.WaitGroup
	for i, args := range cmds {
		wg.Go(func() {
			code, out, errOut := n.run(nil, name, args...)
			res[i] = result{code, out, errOut}
		})
	}
	wg.Wait()
	return res
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
