// Command loadcheck measures kvkit's demo app under load, on the local
// Cloudflare KV API server: N concurrent clients send a fixed number of
// requests (a mix of pages, the cached slow page and the rate-limited API,
// half of the clients signed in), and it reports requests/s, p50/p99
// latency, errors, and — the figure that matters through the REST API —
// Cloudflare API requests per 1,000 HTTP requests.
//
//	cd bench && go run ./loadcheck -app nethttp -clients 50 -requests 10000
//
// It builds the demo from ../examples/<app>, starts the local API server in
// process, and runs the demo as a child process with -backend local, so the
// API requests are counted by the server exactly as Cloudflare would bill
// them. Everything listens on 127.0.0.1 and stops by itself.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kvkit/kvkit/kv/kvserver"
)

func main() {
	app := flag.String("app", "nethttp", "demo to load: nethttp or echo")
	clients := flag.Int("clients", 50, "concurrent clients")
	requests := flag.Int("requests", 10000, "total HTTP requests")
	signedIn := flag.Float64("signed-in", 0.5, "share of clients that sign in first")
	root := flag.String("root", "..", "kvkit repository root (where examples/ is)")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, os.Stdout, *app, *root, *clients, *requests, *signedIn); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, stdout io.Writer, app, root string, clients, requests int, signedIn float64) error {
	if clients < 1 || requests < clients {
		return errors.New("need clients >= 1 and requests >= clients")
	}
	// The local Cloudflare KV API server, in process, counting every request.
	srv, err := kvserver.New(kvserver.Options{})
	if err != nil {
		return err
	}
	nsID := srv.CreateNamespace("", "loadcheck")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	api := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = api.Serve(ln) }()
	defer api.Close()

	// The demo, built and started as a child process on the local server.
	dir, err := os.MkdirTemp("", "kvkit-loadcheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "demo")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/"+app)
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build demo: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-backend", "local")
	cmd.Env = append(os.Environ(),
		"CLOUDFLARE_BASE_URL=http://"+ln.Addr().String()+"/client/v4",
		"CLOUDFLARE_API_TOKEN=loadcheck",
		"CLOUDFLARE_ACCOUNT_ID=00000000000000000000000000000001",
		"KVKIT_NAMESPACE_ID="+nsID,
	)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill() }()
	base, err := waitURL(out)
	if err != nil {
		return err
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()

	startHits := srv.Hits(kvserver.RouteAny)
	srv.ResetHits()
	res := load(ctx, base, clients, requests, signedIn)
	duringLoad := srv.Hits(kvserver.RouteAny)
	byRoute := routeHits(srv)

	// Graceful stop: the demo flushes its counters.
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	withFlush := srv.Hits(kvserver.RouteAny)

	res.report(stdout, app, clients, signedIn)
	fmt.Fprintf(stdout, "Cloudflare API requests: %d at start-up (seeding flags), %d during the load, %d with the shutdown flush\n",
		startHits, duringLoad, withFlush)
	fmt.Fprintf(stdout, "  by endpoint during the load: %s\n", byRoute)
	per := float64(withFlush) * 1000 / float64(res.total)
	fmt.Fprintf(stdout, "API requests per 1,000 HTTP requests: %.1f (target < 50)\n", per)
	if res.errors > 0 {
		return fmt.Errorf("%d errors", res.errors)
	}
	return nil
}

func waitURL(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
			return strings.TrimSpace(u), nil
		}
	}
	return "", errors.New("demo exited before listening")
}

func routeHits(srv *kvserver.Server) string {
	var parts []string
	for _, r := range []kvserver.Route{kvserver.RouteGetValue, kvserver.RoutePutValue, kvserver.RouteDeleteValue,
		kvserver.RouteListKeys, kvserver.RouteBulkGet, kvserver.RouteBulkWrite, kvserver.RouteBulkDelete, kvserver.RouteGetMetadata} {
		if n := srv.Hits(r); n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", r, n))
		}
	}
	return strings.Join(parts, " ")
}

type result struct {
	mu        sync.Mutex
	latencies []time.Duration
	status    map[string]int
	total     int
	errors    int
	elapsed   time.Duration
}

// The request mix: pages, the cached slow page, the rate-limited API.
var mix = []struct {
	path   string
	weight int
}{{"/", 45}, {"/flags", 15}, {"/cache", 5}, {"/slow", 20}, {"/api/hello", 15}}

func pick(r *rand.Rand) string {
	n := r.IntN(100)
	for _, m := range mix {
		if n < m.weight {
			return m.path
		}
		n -= m.weight
	}
	return "/"
}

func load(ctx context.Context, base string, clients, requests int, signedIn float64) *result {
	res := &result{status: map[string]int{}}
	var next atomic.Int64
	var wg sync.WaitGroup
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	defer transport.CloseIdleConnections()
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Transport: transport, Timeout: 30 * time.Second}
			r := rand.New(rand.NewPCG(uint64(i), 42))
			if float64(i) < signedIn*float64(clients) {
				res.do(ctx, c, "POST", base+"/signin", url.Values{"name": {fmt.Sprint("user", i)}})
				if next.Add(1) > int64(requests) {
					return
				}
			}
			for next.Add(1) <= int64(requests) {
				res.do(ctx, c, "GET", base+pick(r), nil)
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func (res *result) do(ctx context.Context, c *http.Client, method, u string, form url.Values) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		res.record(0, err, 0)
		return
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	t0 := time.Now()
	resp, err := c.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	code := 0
	if resp != nil {
		code = resp.StatusCode
	}
	res.record(code, err, time.Since(t0))
}

func (res *result) record(code int, err error, d time.Duration) {
	res.mu.Lock()
	defer res.mu.Unlock()
	res.total++
	res.latencies = append(res.latencies, d)
	switch {
	case err != nil:
		res.errors++
		res.status["error: "+err.Error()]++
	case code >= 500 || (code >= 400 && code != http.StatusTooManyRequests):
		res.errors++
		res.status[fmt.Sprint(code)]++
	default:
		res.status[fmt.Sprint(code)]++
	}
}

func (res *result) report(w io.Writer, app string, clients int, signedIn float64) {
	slices.Sort(res.latencies)
	q := func(p float64) time.Duration { return res.latencies[int(p*float64(len(res.latencies)-1))] }
	fmt.Fprintf(w, "demo %s on the local API server: %d requests from %d clients (%.0f%% signed in) in %v\n",
		app, res.total, clients, signedIn*100, res.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "throughput: %.0f requests/s; latency p50 %v, p99 %v, max %v\n",
		float64(res.total)/res.elapsed.Seconds(), q(0.50).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), res.latencies[len(res.latencies)-1].Round(time.Millisecond))
	keys := make([]string, 0, len(res.status))
	for k := range res.status {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, res.status[k]))
	}
	fmt.Fprintf(w, "statuses: %s; errors: %d (target 0)\n", strings.Join(parts, " "), res.errors)
}
