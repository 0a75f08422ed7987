package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/kvkit/kvkit/cmd/kvkit/internal/dashboard"
	"github.com/kvkit/kvkit/kv/kvserver"
)

func init() {
	register(&command{
		name:  "serve",
		args:  "[--addr 127.0.0.1:8787] [--token T] [--data FILE] [--namespace ID] [--auto-create] [--dashboard=false]",
		short: "run a local Cloudflare KV REST API server, with a dashboard at /",
		long: `
The API is at /client/v4 and the dashboard at /. At start-up the server
creates the namespace --namespace (default ` + kvserver.DefaultNamespaceID + `,
titled "` + kvserver.DefaultNamespaceTitle + `") unless --data already holds it, and
prints the variables that point kvkit, the SDKs and wrangler at it. With the
default --addr and no --token, the kvkit commands and the demo's
-backend local find it with nothing exported.

Namespaces exist only once created: a request naming any other namespace ID
gets 404 with code 10013, as from Cloudflare. --auto-create creates them on
first use instead (a convenience that hides wrong IDs).

With --token, API requests must send "Authorization: Bearer T" (or
"X-Auth-Key: T" with any "X-Auth-Email"), and the dashboard asks for T once
(a login form that sets a cookie).`,
		setup: func(fs *flag.FlagSet) runFunc {
			var c serveConfig
			fs.StringVar(&c.addr, "addr", kvserver.DefaultAddr, "address to listen on (port 0 picks a free port)")
			fs.StringVar(&c.token, "token", "", "API token clients must send (default: accept any)")
			fs.StringVar(&c.data, "data", "", "file to load at start and save at shutdown (default: in memory only)")
			fs.StringVar(&c.nsID, "namespace", kvserver.DefaultNamespaceID, "ID of the namespace to create at start-up and print: 32 hex digits")
			fs.BoolVar(&c.autoCreate, "auto-create", false, "create unknown namespaces on first use instead of answering 404")
			fs.BoolVar(&c.dashboard, "dashboard", true, "serve the dashboard at /")
			return func(ctx context.Context, env *environ, args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if !isHexID(c.nsID) {
					return usagef("--namespace must be 32 hex digits, got %q", c.nsID)
				}
				return serve(ctx, env, c)
			}
		},
	})
}

type serveConfig struct {
	addr, token, data, nsID string
	autoCreate, dashboard   bool
}

func isHexID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// handler routes /client/v4 (and the prefix-less /accounts the server also
// answers) to the API and everything else to the dashboard. Unsafe
// requests from other web origins are refused (a page in the browser must
// not drive a local server); API clients send no Origin and pass.
func handler(srv *kvserver.Server, dash http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/client/v4/", srv)
	mux.Handle("/accounts/", srv)
	if dash != nil {
		mux.Handle("/", dash)
	} else {
		mux.Handle("/", srv)
	}
	return http.NewCrossOriginProtection().Handler(mux)
}

func serve(ctx context.Context, env *environ, c serveConfig) error {
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := kvserver.New(kvserver.Options{Token: c.token, AutoCreate: c.autoCreate, Logger: log})
	if err != nil {
		return err
	}
	if c.data != "" {
		if err := loadData(srv, c.data); err != nil {
			return err
		}
	}
	nsID := srv.CreateNamespace(c.nsID, kvserver.DefaultNamespaceTitle)
	var dash http.Handler
	if c.dashboard {
		d, err := dashboard.New(srv, dashboard.Options{Token: c.token, AccountID: kvserver.DefaultAccountID, Logger: log})
		if err != nil {
			return err
		}
		dash = d
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	root := "http://" + ln.Addr().String()
	base := root + "/client/v4"
	shownToken := c.token
	if shownToken == "" {
		shownToken = kvserver.DefaultToken // any token is accepted; the SDKs need one
	}
	fmt.Fprintf(env.stdout, "kvkit: serving the Cloudflare KV API at %s\n", base)
	if c.dashboard {
		fmt.Fprintf(env.stdout, "kvkit: dashboard at %s/\n", root)
	}
	fmt.Fprintf(env.stdout, "export CLOUDFLARE_BASE_URL=%s\n", base)
	fmt.Fprintf(env.stdout, "export CLOUDFLARE_API_BASE_URL=%s\n", base)
	fmt.Fprintf(env.stdout, "export CLOUDFLARE_API_TOKEN=%s\n", shownToken)
	fmt.Fprintf(env.stdout, "export CLOUDFLARE_ACCOUNT_ID=%s\n", kvserver.DefaultAccountID)
	fmt.Fprintf(env.stdout, "export KVKIT_NAMESPACE_ID=%s\n", nsID)
	if f, ok := env.stdout.(*os.File); ok {
		_ = f.Sync()
	}

	hs := &http.Server{Handler: handler(srv, dash), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(shutdown)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if c.data != "" {
		if serr := saveData(srv, c.data); serr != nil {
			return serr
		}
		fmt.Fprintf(env.stdout, "kvkit: saved to %s\n", c.data)
	}
	return err
}

func loadData(srv *kvserver.Server, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // first run
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := srv.Load(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// saveData writes the snapshot next to path and renames it into place, so a
// crash never leaves a half-written file.
func saveData(srv *kvserver.Server, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := srv.Save(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
