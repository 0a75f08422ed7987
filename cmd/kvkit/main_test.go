package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/kv/kvtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		main() // exits
	}
	goleak.VerifyTestMain(m)
}

// runIn runs kvkit in-process with the given environment.
func runIn(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &environ{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		getenv: func(k string) string { return env[k] },
	})
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		code int
		want string
		env  map[string]string
	}{
		{nil, 2, "usage: kvkit", nil},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`, nil},
		{[]string{"get"}, 2, "want one KEY", nil},
		{[]string{"put", "k"}, 2, "want KEY and VALUE", nil},
		{[]string{"put", "--ttl", "soon", "k", "v"}, 2, "--ttl", nil},
		{[]string{"put", "--metadata", "{", "k", "v"}, 2, "not valid JSON", nil},
		{[]string{"list", "--bogus"}, 2, "flag provided but not defined", nil},
		// One variable set means the environment is meant: the missing
		// ones are errors (with none set, kvkit serve's defaults are used).
		{[]string{"get", "k"}, 1, "CLOUDFLARE_API_TOKEN is not set", map[string]string{"CLOUDFLARE_ACCOUNT_ID": kvserver.DefaultAccountID}},
		{[]string{"serve", "--namespace", "default"}, 2, "--namespace must be 32 hex digits", nil},
		{[]string{"serve", "extra"}, 2, `unexpected argument "extra"`, nil},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := runIn(t, c.env, "", c.args...)
			assert.Equal(t, c.code, code)
			assert.Contains(t, stderr, c.want)
			if c.args != nil {
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			}
		})
	}
}

// In-process commands against a local server: fast, and covers put from
// stdin, metadata and TTL flags, list --long.
func TestCommandsInProcess(t *testing.T) {
	t.Parallel()
	srv := kvtest.NewServer(t, kvtest.ServerOptions{})
	env := srv.Env()

	code, _, stderr := runIn(t, env, "from stdin\x00\xff", "put", "--ttl", "1h", "--metadata", `{"v":1}`, "dir/key?#%", "-")
	require.Equal(t, 0, code, stderr)
	code, out, _ := runIn(t, env, "", "get", "dir/key?#%")
	require.Equal(t, 0, code)
	assert.Equal(t, "from stdin\x00\xff", out)
	code, out, _ = runIn(t, env, "", "get", "--metadata", "dir/key?#%")
	require.Equal(t, 0, code)
	assert.Equal(t, "{\"v\":1}\n", out)

	code, _, stderr = runIn(t, env, "", "put", "--expiration", "2030-01-01T00:00:00Z", "other", "v")
	require.Equal(t, 0, code, stderr)
	code, out, _ = runIn(t, env, "", "list", "--long")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	fields := strings.Split(lines[0], "\t")
	require.Len(t, fields, 3)
	assert.Equal(t, `"dir/key?#%"`, fields[0])
	exp, err := time.Parse(time.RFC3339, fields[1])
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(time.Hour), exp, time.Minute)
	assert.Equal(t, `{"v":1}`, fields[2])
	assert.Contains(t, out, "\"other\"\t2030-01-01T00:00:00Z\t-\n")

	code, _, _ = runIn(t, env, "", "delete", "other")
	require.Equal(t, 0, code)
	code, out, _ = runIn(t, env, "", "list", "--prefix", "dir/")
	require.Equal(t, 0, code)
	assert.Equal(t, "dir/key?#%\n", out)

	code, _, stderr = runIn(t, env, "", "get", "missing")
	assert.Equal(t, 1, code)
	assert.Equal(t, "kvkit get: \"missing\": key not found\n", stderr)
	code, _, stderr = runIn(t, env, "", "put", "--ttl", "30s", "k", "v")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "at least 60s")
}

// asCLI, set in a child's environment, makes the test binary run main()
// instead of the tests: the end-to-end tests run the real kvkit command,
// signals and all, without a `go build` of their own.
const asCLI = "KVKIT_TEST_RUN_AS_CLI"

// kvkitBin returns the command that runs this test binary as kvkit.
func kvkitBin(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return exe
}

// kvkitCmd is `kvkit args...` with exactly env (plus PATH and asCLI).
func kvkitCmd(t *testing.T, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(kvkitBin(t), args...)
	// GORACE: a -race binary otherwise sleeps a second at exit.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), asCLI + "=1", "GORACE=atexit_sleep_ms=0"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// serveProc is a running `kvkit serve`.
type serveProc struct {
	cmd *exec.Cmd
	env map[string]string
	out chan string // stdout lines other than the exports
}

func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	cmd := kvkitCmd(t, nil, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &serveProc{cmd: cmd, env: map[string]string{}, out: make(chan string, 16)}
	ready := make(chan struct{})
	go func() {
		defer close(p.out)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if kv, ok := strings.CutPrefix(line, "export "); ok {
				k, v, _ := strings.Cut(kv, "=")
				p.env[k] = v
				if k == "KVKIT_NAMESPACE_ID" {
					close(ready)
				}
				continue
			}
			p.out <- line
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("kvkit serve printed no environment")
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p
}

// stop sends sig and waits for a clean exit.
func (p *serveProc) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "kvkit serve exits 0 on %v", sig)
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("kvkit serve did not stop")
	}
	for range p.out { // drain until the reader goroutine ends
	}
}

// clientEnv is the part of serve's exports the kvkit commands read.
func (p *serveProc) clientEnv() map[string]string {
	env := map[string]string{}
	for _, k := range []string{"CLOUDFLARE_BASE_URL", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "KVKIT_NAMESPACE_ID"} {
		env[k] = p.env[k]
	}
	return env
}

func runBin(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	cmd := kvkitCmd(t, env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, out.String(), errb.String()
}

// TestEndToEnd runs kvkit serve as a process on a real port, the kvkit
// commands as processes against it, and stops it with real signals.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "kv.json")

	p := startServe(t, "--token", "s3cret", "--data", data)
	env := p.clientEnv()
	assert.Equal(t, "s3cret", env["CLOUDFLARE_API_TOKEN"])
	assert.True(t, strings.HasPrefix(env["CLOUDFLARE_BASE_URL"], "http://127.0.0.1:"))
	assert.NotContains(t, env["CLOUDFLARE_BASE_URL"], ":0/", "the actual port is printed")
	assert.Equal(t, env["CLOUDFLARE_BASE_URL"], p.env["CLOUDFLARE_API_BASE_URL"], "wrangler's variable too")
	assert.Equal(t, kvserver.DefaultNamespaceID, env["KVKIT_NAMESPACE_ID"], "the stable default namespace")

	code, _, stderr := runBin(t, env, "put", "--metadata", `{"owner":"ana"}`, "user/1 😀", "hello")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runBin(t, env, "put", "--ttl", "2h", "user/2", "world")
	require.Equal(t, 0, code, stderr)
	code, out, _ := runBin(t, env, "get", "user/1 😀")
	require.Equal(t, 0, code)
	assert.Equal(t, "hello", out)
	code, out, _ = runBin(t, env, "list", "--prefix", "user/")
	require.Equal(t, 0, code)
	assert.Equal(t, "user/1 😀\nuser/2\n", out)

	bad := maps.Clone(env)
	bad["CLOUDFLARE_API_TOKEN"] = "wrong"
	code, _, stderr = runBin(t, bad, "get", "user/2")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "unauthorized")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)

	// A namespace nobody created is a 404 with code 10013, through the
	// command too.
	unknown := maps.Clone(env)
	unknown["KVKIT_NAMESPACE_ID"] = "0123456789abcdef0123456789abcdef"
	code, _, stderr = runBin(t, unknown, "put", "k", "v")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "10013")

	// The dashboard is at /, behind the token, beside the API.
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	res, err := hc.Get(strings.TrimSuffix(env["CLOUDFLARE_BASE_URL"], "/client/v4") + "/ns/" + kvserver.DefaultNamespaceID)
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "/login", res.Request.URL.Path, "sent to sign in first")
	assert.Contains(t, string(page), `id="token"`)

	p.stop(t, os.Interrupt)
	_, err = os.Stat(data)
	require.NoError(t, err, "--data is saved at shutdown")

	// A restart with the same file serves the same namespace and keys.
	p2 := startServe(t, "--token", "s3cret", "--data", data)
	env2 := p2.clientEnv()
	assert.Equal(t, env["KVKIT_NAMESPACE_ID"], env2["KVKIT_NAMESPACE_ID"])
	code, out, _ = runBin(t, env2, "get", "--metadata", "user/1 😀")
	require.Equal(t, 0, code)
	assert.Equal(t, "{\"owner\":\"ana\"}\n", out)
	code, _, _ = runBin(t, env2, "delete", "user/2")
	require.Equal(t, 0, code)
	code, out, _ = runBin(t, env2, "list")
	require.Equal(t, 0, code)
	assert.Equal(t, "user/1 😀\n", out)
	p2.stop(t, syscall.SIGTERM)
}

// With none of the four variables set, the commands use what kvkit serve
// prints when started with its defaults; with any set, the environment.
func TestLocalDefaults(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan int, 1)
	// serve in process, as started with no flags but a free port.
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, &environ{stdin: strings.NewReader(""), stdout: out, stderr: io.Discard, getenv: func(string) string { return "" }})
	}()
	printed := map[string]string{}
	require.Eventually(t, func() bool {
		for _, line := range strings.Split(out.String(), "\n") {
			if kv, ok := strings.CutPrefix(line, "export "); ok {
				k, v, _ := strings.Cut(kv, "=")
				printed[k] = v
			}
		}
		return printed["KVKIT_NAMESPACE_ID"] != ""
	}, 10*time.Second, 10*time.Millisecond)

	defaults := localDefaults(func(string) string { return "" })
	for _, k := range []string{"CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "KVKIT_NAMESPACE_ID"} {
		assert.Equal(t, printed[k], defaults(k), k)
	}
	port := printed["CLOUDFLARE_BASE_URL"][strings.LastIndex(printed["CLOUDFLARE_BASE_URL"], ":"):]
	assert.Equal(t, strings.Replace(printed["CLOUDFLARE_BASE_URL"], port, ":8787/client/v4", 1), defaults("CLOUDFLARE_BASE_URL"), "the same URL on the default port")
	cancel()
	assert.Equal(t, 0, <-done)

	env := map[string]string{"CLOUDFLARE_BASE_URL": "http://127.0.0.1:1/client/v4"}
	own := localDefaults(func(k string) string { return env[k] })
	assert.Equal(t, "", own("CLOUDFLARE_API_TOKEN"), "one variable set: no defaults")
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
