package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Serve parses the command line of a demo app, opens the backend, builds the
// App and serves routes(app) until ctx ends; then it shuts down gracefully:
// in-flight requests finish and the counters are flushed. ready, when not
// nil, receives the base URL once the server listens.
func Serve(ctx context.Context, args []string, stdout io.Writer, ready chan<- string, framework string, routes func(*App) http.Handler) error {
	fs := flag.NewFlagSet(framework, flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	backend := fs.String("backend", "memory", "KV backend: memory (embedded), local (a kvkit serve server), cloudflare (from the environment) or worker (kvkit's Worker, KVKIT_WORKER_URL and KVKIT_WORKER_SECRET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := OpenBackend(*backend)
	if err != nil {
		return err
	}
	app, err := New(ctx, b.NS, Options{Requests: b.Requests})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		_ = app.Close(context.Background())
		return err
	}
	url := "http://" + ln.Addr().String()
	srv := &http.Server{
		Handler: routes(app),
		// The timeouts a server facing the Internet needs: slow clients
		// cannot hold connections (or goroutines) open forever.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Fprintf(stdout, "kvkit demo (%s, %s backend) listening on %s\n", framework, b.Name, url)
	if ready != nil {
		ready <- url
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		fmt.Fprintln(stdout, "shutting down: finishing requests, flushing counters")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = srv.Shutdown(sctx)
		<-errc
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, app.Close(cctx))
}
