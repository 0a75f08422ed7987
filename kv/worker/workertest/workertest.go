// Package workertest runs kvkit's Worker (worker/ in this repository) in
// workerd, the Workers runtime, through Miniflare, for tests and
// benchmarks: the Worker bound to one KV namespace, the TypeScript recipes
// of the @workkit/kv patterns (e2e/miniflare/recipes.js) as a second Worker
// bound to the same namespace, the Worker again over fresh namespaces for
// the conformance suite, and over a binding that fails on demand
// (e2e/miniflare/faults.js).
//
// It needs Node (20 or later) and the npm packages pinned in e2e/ (npm ci
// in e2e/, as .ci/run does); without them Start fails the test, it never
// skips. The process runs until Close (or the test's cleanup) and dies with
// the test process, whichever comes first: it exits when its stdin closes.
package workertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/worker"
)

// Options configures Launch. The zero value means the defaults.
type Options struct {
	// Secret is the Worker's KVKIT_SECRET. Default: 32 random bytes.
	Secret string
	// SecretNext is its KVKIT_SECRET_NEXT (a second accepted secret, as
	// while rotating). Default: 32 random bytes.
	SecretNext string
	// Namespaces is how many fresh namespaces Fresh can hand out (one per
	// conformance case). Default: 0.
	Namespaces int
}

// Instance is a running workerd with kvkit's Worker.
type Instance struct {
	// URL is kvkit's Worker over the shared namespace.
	URL string
	// RecipesURL is the recipes Worker over the same namespace.
	RecipesURL string
	// Secret and SecretNext are the two secrets the Worker accepts.
	Secret, SecretNext string

	conformance string
	faults      string
	control     string
	prefix      string
	namespaces  int
	next        atomic.Int32

	hc     *http.Client
	plain  *http.Client // one connection per request: recipes and clock
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	once   sync.Once
}

// Root returns the repository's root: the first directory at or above the
// working directory holding worker/wrangler.toml and e2e/miniflare.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "worker", "wrangler.toml")) && fileExists(filepath.Join(dir, "e2e", "miniflare", "launch.mjs")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("workertest: no kvkit repository (worker/wrangler.toml, e2e/miniflare) at or above the working directory")
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func randomSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Start launches an Instance for t and closes it at t's cleanup. It fails
// t when Node or the npm packages are missing.
func Start(t testing.TB, opts Options) *Instance {
	t.Helper()
	inst, err := Launch(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := inst.Close(); err != nil {
			t.Errorf("workertest: %v", err)
		}
	})
	return inst
}

// Launch starts workerd through Miniflare and returns once the Workers
// answer. The caller must Close it.
func Launch(opts Options) (*Instance, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("workertest: Node is required (go test -tags e2e runs the Worker in workerd through Miniflare): " + err.Error())
	}
	root, err := Root()
	if err != nil {
		return nil, err
	}
	if !fileExists(filepath.Join(root, "e2e", "node_modules", "miniflare", "package.json")) {
		return nil, errors.New("workertest: miniflare is not installed: run npm ci in " + filepath.Join(root, "e2e") + " (.ci/run does)")
	}
	if opts.Secret == "" {
		opts.Secret = randomSecret()
	}
	if opts.SecretNext == "" {
		opts.SecretNext = randomSecret()
	}
	arg, _ := json.Marshal(map[string]any{"secret": opts.Secret, "secretNext": opts.SecretNext, "namespaces": opts.Namespaces})
	cmd := exec.Command(node, filepath.Join(root, "e2e", "miniflare", "launch.mjs"), string(arg))
	cmd.Dir = filepath.Join(root, "e2e", "miniflare")
	// Its own process group, so that Close can stop workerd with it if
	// the launcher does not exit by itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("workertest: starting node: %w", err)
	}
	inst := &Instance{
		Secret: opts.Secret, SecretNext: opts.SecretNext,
		hc: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 2 * time.Minute},
		// Recipe calls are not all idempotent (a counter increment), so
		// they never go on a kept-alive connection that workerd may have
		// closed meanwhile (it does so without a Connection: close).
		plain: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute},
		cmd:   cmd, stdin: stdin, stderr: stderr, done: make(chan struct{}),
	}

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
		close(lines)
		_ = cmd.Wait()
		close(inst.done)
	}()

	var line string
	select {
	case l, ok := <-lines:
		if !ok {
			<-inst.done
			return nil, fmt.Errorf("workertest: Miniflare exited before it was ready: %s", stderr.String())
		}
		line = l
	case <-time.After(2 * time.Minute):
		_ = inst.Close()
		return nil, fmt.Errorf("workertest: Miniflare did not start within 2 minutes: %s", stderr.String())
	}
	var urls struct {
		Kvkit, Recipes, Conformance, Control, Faults string
		Namespaces                                   int
		ConformancePrefix                            string
	}
	if err := json.Unmarshal([]byte(line), &urls); err != nil || urls.Kvkit == "" {
		_ = inst.Close()
		return nil, fmt.Errorf("workertest: unexpected launcher output %q: %s", line, stderr.String())
	}
	inst.URL, inst.RecipesURL = urls.Kvkit, urls.Recipes
	inst.conformance, inst.control, inst.faults = urls.Conformance, urls.Control, urls.Faults
	inst.namespaces, inst.prefix = urls.Namespaces, urls.ConformancePrefix
	return inst, nil
}

// Client returns the HTTP client the Instance's namespaces use by default.
// Its idle connections are closed by Close.
func (i *Instance) Client() *http.Client { return i.hc }

// Close stops workerd and waits for it.
func (i *Instance) Close() error {
	var err error
	i.once.Do(func() {
		defer i.hc.CloseIdleConnections()
		_ = i.stdin.Close() // the launcher disposes of Miniflare and exits
		select {
		case <-i.done:
		case <-time.After(20 * time.Second):
			err = errors.New("launcher did not exit within 20s of stdin closing; killed")
			_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
			<-i.done
		}
	})
	return err
}

// Stderr returns what the launcher and workerd wrote to stderr so far.
func (i *Instance) Stderr() string { return i.stderr.String() }

// Namespace returns a client of kvkit's Worker over the shared namespace.
func (i *Instance) Namespace(t testing.TB, opts worker.Options) *worker.Namespace {
	t.Helper()
	if opts.HTTPClient == nil {
		opts.HTTPClient = i.hc
	}
	ns, err := worker.New(i.URL, i.Secret, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// Faulty returns a client of kvkit's Worker over a binding that fails every
// call about key ("*": every call) the way the real binding does:
// "rate-limited" (KV's 429 for a second write to a key within a second),
// "unavailable" (a 503), "none" (no failure); or, with "no-binding", a
// Worker deployed without its KV binding. The namespace behind it is its
// own, shared by every Faulty client.
func (i *Instance) Faulty(t testing.TB, kind, key string, opts worker.Options) *worker.Namespace {
	t.Helper()
	if opts.HTTPClient == nil {
		opts.HTTPClient = i.hc
	}
	ns, err := worker.New(i.faults+"/fault/"+kind+"/"+url.PathEscape(key), i.Secret, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// Clock says how a Fresh namespace's KV keeps time.
type Clock int

const (
	// KVClock makes KV's clock (Miniflare's fake timers for that namespace)
	// follow now before every call, 1 ms ahead (see Fresh).
	KVClock Clock = iota
	// RealClock leaves KV on the real time. Miniflare caps values at 1 KiB
	// in a namespace whose clock a test has moved (its simulator assumes it
	// is under test), so cases that write large values and do not depend
	// on the clock use this.
	RealClock
)

// Fresh returns a client of kvkit's Worker over a namespace no one has used,
// whose Go side validates expirations with now. With KVClock, KV's own clock
// is set to now before every call: 1 ms past it, because Miniflare's list
// still returns a key whose expiration equals the clock to the millisecond
// while its get treats it as expired (a boundary real KV's clock never sits
// on). The result implements kv.BulkNamespace and kv.StreamNamespace.
func (i *Instance) Fresh(t testing.TB, now func() time.Time, clock Clock, opts worker.Options) *Clocked {
	t.Helper()
	n := int(i.next.Add(1)) - 1
	if n >= i.namespaces {
		t.Fatalf("workertest: all %d fresh namespaces are used (Options.Namespaces)", i.namespaces)
	}
	opts.Clock = now
	if opts.HTTPClient == nil {
		opts.HTTPClient = i.hc
	}
	ns, err := worker.New(i.conformance+"/ns/"+strconv.Itoa(n), i.Secret, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &Clocked{Namespace: ns}
	if clock == KVClock {
		c.sync = func() error { return i.setClock(i.prefix+strconv.Itoa(n), now().UnixMilli()+1, &c.last) }
	}
	return c
}

// setClock sets the KV clock of namespace to ms, unless it is there already.
func (i *Instance) setClock(namespace string, ms int64, last *atomic.Int64) error {
	if last.Load() == ms {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := url.Values{"namespace": {namespace}, "ms": {strconv.FormatInt(ms, 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.control+"/clock?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	res, err := i.plain.Do(req)
	if err != nil {
		return fmt.Errorf("workertest: setting KV's clock: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("workertest: setting KV's clock: HTTP %d %s", res.StatusCode, body)
	}
	last.Store(ms)
	return nil
}

// Clocked is a Fresh namespace: a *worker.Namespace that first brings KV's
// clock to the test's (with KVClock).
type Clocked struct {
	*worker.Namespace
	sync func() error
	last atomic.Int64
}

var (
	_ kv.BulkNamespace   = (*Clocked)(nil)
	_ kv.StreamNamespace = (*Clocked)(nil)
)

func (c *Clocked) tick() error {
	if c.sync == nil {
		return nil
	}
	return c.sync()
}

// Get implements kv.Namespace.
func (c *Clocked) Get(ctx context.Context, key string, o kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	if err := c.tick(); err != nil {
		return kv.Entry[[]byte]{}, false, err
	}
	return c.Namespace.Get(ctx, key, o)
}

// Put implements kv.Namespace.
func (c *Clocked) Put(ctx context.Context, key string, value []byte, o kv.PutOptions) error {
	if err := c.tick(); err != nil {
		return err
	}
	return c.Namespace.Put(ctx, key, value, o)
}

// Delete implements kv.Namespace.
func (c *Clocked) Delete(ctx context.Context, key string) error {
	if err := c.tick(); err != nil {
		return err
	}
	return c.Namespace.Delete(ctx, key)
}

// List implements kv.Namespace.
func (c *Clocked) List(ctx context.Context, o kv.ListOptions) (kv.Page, error) {
	if err := c.tick(); err != nil {
		return kv.Page{}, err
	}
	return c.Namespace.List(ctx, o)
}

// GetBulk implements kv.BulkNamespace.
func (c *Clocked) GetBulk(ctx context.Context, keys []string, o kv.GetOptions) (map[string]kv.Entry[[]byte], error) {
	if err := c.tick(); err != nil {
		return nil, err
	}
	return c.Namespace.GetBulk(ctx, keys, o)
}

// PutBulk implements kv.BulkNamespace.
func (c *Clocked) PutBulk(ctx context.Context, pairs []kv.Pair) error {
	if err := c.tick(); err != nil {
		return err
	}
	return c.Namespace.PutBulk(ctx, pairs)
}

// DeleteBulk implements kv.BulkNamespace.
func (c *Clocked) DeleteBulk(ctx context.Context, keys []string) error {
	if err := c.tick(); err != nil {
		return err
	}
	return c.Namespace.DeleteBulk(ctx, keys)
}

// GetStream implements kv.StreamNamespace.
func (c *Clocked) GetStream(ctx context.Context, key string) (io.ReadCloser, bool, error) {
	if err := c.tick(); err != nil {
		return nil, false, err
	}
	return c.Namespace.GetStream(ctx, key)
}

// PutStream implements kv.StreamNamespace.
func (c *Clocked) PutStream(ctx context.Context, key string, r io.Reader, o kv.PutOptions) error {
	if err := c.tick(); err != nil {
		return err
	}
	return c.Namespace.PutStream(ctx, key, r, o)
}

// Recipe calls one of the recipes Worker's operations (e2e/miniflare/recipes.js)
// and decodes its result into out (nil to drop it).
func (i *Instance) Recipe(ctx context.Context, op string, args map[string]any, out any) error {
	body := map[string]any{"op": op}
	for k, v := range args {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.RecipesURL, bytes.NewReader(b))
	if err != nil {
		return err
	}
	res, err := i.plain.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil {
		return fmt.Errorf("recipe %s: HTTP %d: %w", op, res.StatusCode, err)
	}
	if env.Error != "" || res.StatusCode != http.StatusOK {
		return fmt.Errorf("recipe %s: HTTP %d: %s", op, res.StatusCode, env.Error)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Result, out)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 {
		return len(p), nil // enough to diagnose
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
