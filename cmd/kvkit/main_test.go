package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv/kvtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
	}{
		{nil, 2, "usage: kvkit"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"get"}, 2, "want one KEY"},
		{[]string{"put", "k"}, 2, "want KEY and VALUE"},
		{[]string{"put", "--ttl", "soon", "k", "v"}, 2, "--ttl"},
		{[]string{"put", "--metadata", "{", "k", "v"}, 2, "not valid JSON"},
		{[]string{"list", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"get", "k"}, 1, "CLOUDFLARE_API_TOKEN is not set"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := runIn(t, nil, "", c.args...)
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

// buildKvkit compiles the command into a temporary directory.
func buildKvkit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kvkit")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// serveProc is a running `kvkit serve`.
type serveProc struct {
	cmd *exec.Cmd
	env map[string]string
	out chan string // stdout lines after the exports
}

func startServe(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
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

// stop sends SIGINT and waits for a clean exit.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "kvkit serve exits 0 on SIGINT")
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("kvkit serve did not stop")
	}
	for range p.out { // drain until the reader goroutine ends
	}
}

func runBin(t *testing.T, bin string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
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

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildKvkit(t)
	data := filepath.Join(t.TempDir(), "kv.json")

	p := startServe(t, bin, "--token", "s3cret", "--data", data)
	env := p.env
	assert.Equal(t, "s3cret", env["CLOUDFLARE_API_TOKEN"])
	assert.True(t, strings.HasPrefix(env["CLOUDFLARE_BASE_URL"], "http://127.0.0.1:"))
	assert.NotContains(t, env["CLOUDFLARE_BASE_URL"], ":0/", "the actual port is printed")

	code, _, stderr := runBin(t, bin, env, "put", "--metadata", `{"owner":"ana"}`, "user/1 😀", "hello")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runBin(t, bin, env, "put", "--ttl", "2h", "user/2", "world")
	require.Equal(t, 0, code, stderr)
	code, out, _ := runBin(t, bin, env, "get", "user/1 😀")
	require.Equal(t, 0, code)
	assert.Equal(t, "hello", out)
	code, out, _ = runBin(t, bin, env, "list", "--prefix", "user/")
	require.Equal(t, 0, code)
	assert.Equal(t, "user/1 😀\nuser/2\n", out)

	bad := map[string]string{}
	for k, v := range env {
		bad[k] = v
	}
	bad["CLOUDFLARE_API_TOKEN"] = "wrong"
	code, _, stderr = runBin(t, bin, bad, "get", "user/2")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "unauthorized")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)

	p.stop(t)
	_, err := os.Stat(data)
	require.NoError(t, err, "--data is saved at shutdown")

	// A restart with the same file serves the same namespace and keys.
	p2 := startServe(t, bin, "--token", "s3cret", "--data", data)
	assert.Equal(t, env["KVKIT_NAMESPACE_ID"], p2.env["KVKIT_NAMESPACE_ID"])
	code, out, _ = runBin(t, bin, p2.env, "get", "--metadata", "user/1 😀")
	require.Equal(t, 0, code)
	assert.Equal(t, "{\"owner\":\"ana\"}\n", out)
	code, _, _ = runBin(t, bin, p2.env, "delete", "user/2")
	require.Equal(t, 0, code)
	code, out, _ = runBin(t, bin, p2.env, "list")
	require.Equal(t, 0, code)
	assert.Equal(t, "user/1 😀\n", out)
	p2.stop(t)
}
