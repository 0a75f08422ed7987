package demo

import (
	"fmt"
	"os"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/cloudflare"
	"github.com/kvkit/kvkit/kv/kvserver"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/kv/worker"
)

// Backend is the namespace a demo runs on.
type Backend struct {
	Name     string
	NS       kv.Namespace
	Requests func() int64 // Cloudflare API requests so far; nil for memory
}

// Defaults for -backend local when the kvkit serve variables are not set:
// what `kvkit serve` started with its defaults listens on and prints (the
// namespace is the one it creates at start-up).
const (
	localBaseURL   = kvserver.DefaultBaseURL
	localToken     = kvserver.DefaultToken
	localAccountID = kvserver.DefaultAccountID
	localNSID      = kvserver.DefaultNamespaceID
)

// OpenBackend opens the backend named kind: "memory" (embedded), "local" (a
// kvkit serve server, from the variables it prints, with its defaults when
// unset), "cloudflare" (the real API, from CLOUDFLARE_API_TOKEN,
// CLOUDFLARE_ACCOUNT_ID and KVKIT_NAMESPACE_ID) or "worker" (kvkit's Worker,
// from KVKIT_WORKER_URL and KVKIT_WORKER_SECRET).
func OpenBackend(kind string) (Backend, error) {
	return openBackend(kind, os.Getenv)
}

func openBackend(kind string, getenv func(string) string) (Backend, error) {
	switch kind {
	case "memory":
		return Backend{Name: kind, NS: memory.New(memory.Options{})}, nil
	case "local", "cloudflare":
		env := getenv
		if kind == "local" {
			env = withDefaults(getenv, map[string]string{
				cloudflare.EnvBaseURL:     localBaseURL,
				cloudflare.EnvAPIToken:    localToken,
				cloudflare.EnvAccountID:   localAccountID,
				cloudflare.EnvNamespaceID: localNSID,
			})
		}
		e, err := cloudflare.ParseEnv(env)
		if err != nil {
			return Backend{}, fmt.Errorf("-backend %s: %w", kind, err)
		}
		ns, err := e.Open(cloudflare.Options{})
		if err != nil {
			return Backend{}, fmt.Errorf("-backend %s: %w", kind, err)
		}
		return Backend{Name: kind, NS: ns, Requests: func() int64 { return ns.Requests().Total() }}, nil
	case "worker":
		// No Requests: the Worker spends no Cloudflare API requests.
		e, err := worker.ParseEnv(getenv)
		if err != nil {
			return Backend{}, fmt.Errorf("-backend worker: %w", err)
		}
		ns, err := e.Open(worker.Options{})
		if err != nil {
			return Backend{}, fmt.Errorf("-backend worker: %w", err)
		}
		return Backend{Name: kind, NS: ns}, nil
	}
	return Backend{}, fmt.Errorf("-backend %q: want memory, local, cloudflare or worker", kind)
}

func withDefaults(getenv func(string) string, defaults map[string]string) func(string) string {
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return defaults[k]
	}
}
