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

	"github.com/kvkit/kvkit/kv/kvserver"
)

// localAccountID is the account ID kvkit serve prints; the server accepts
// any.
const localAccountID = "00000000000000000000000000000001"

func init() {
	register(&command{
		name:  "serve",
		args:  "[--addr 127.0.0.1:8787] [--token T] [--data FILE]",
		short: "run a local Cloudflare KV REST API server",
		setup: func(fs *flag.FlagSet) runFunc {
			addr := fs.String("addr", "127.0.0.1:8787", "address to listen on (port 0 picks a free port)")
			token := fs.String("token", "", "API token clients must send (default: accept any)")
			data := fs.String("data", "", "file to load at start and save at shutdown (default: in memory only)")
			nsID := fs.String("namespace", "", "ID of the namespace to print (default: the first saved one, or a new one)")
			return func(ctx context.Context, env *environ, args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return serve(ctx, env, *addr, *token, *data, *nsID)
			}
		},
	})
}

func serve(ctx context.Context, env *environ, addr, token, data, nsID string) error {
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := kvserver.New(kvserver.Options{Token: token, AutoCreate: true, Logger: log})
	if err != nil {
		return err
	}
	if data != "" {
		if err := loadData(srv, data); err != nil {
			return err
		}
	}
	if nsID == "" {
		nsID = srv.FirstNamespace()
	}
	nsID = srv.CreateNamespace(nsID, "kvkit")

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String() + "/client/v4"
	shownToken := token
	if shownToken == "" {
		shownToken = "local" // any token is accepted; the SDK needs one
	}
	fmt.Fprintf(env.stdout, "kvkit: serving the Cloudflare KV API at %s\n", base)
	fmt.Fprintf(env.stdout, "export CLOUDFLARE_BASE_URL=%s\n", base)
	fmt.Fprintf(env.stdout, "export CLOUDFLARE_API_TOKEN=%s\n", shownToken)
	fmt.Fprintf(env.stdout, "export CLOUDFLARE_ACCOUNT_ID=%s\n", localAccountID)
	fmt.Fprintf(env.stdout, "export KVKIT_NAMESPACE_ID=%s\n", nsID)
	if f, ok := env.stdout.(*os.File); ok {
		_ = f.Sync()
	}

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
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
	if data != "" {
		if serr := saveData(srv, data); serr != nil {
			return serr
		}
		fmt.Fprintf(env.stdout, "kvkit: saved to %s\n", data)
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
