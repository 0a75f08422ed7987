package kvtest

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kvkit/kvkit/kv/kvserver"
)

// ServerOptions configures NewServer. The zero value means the defaults.
type ServerOptions struct {
	// Token is the API token the server requires. Default: "kvtest-token".
	Token string
	// NoAuth turns the token check off. Default: false.
	NoAuth bool
	// Clock is the server's time (every namespace's memory backend uses it).
	// Default: time.Now.
	Clock func() time.Time
	// AutoCreate creates unknown namespaces on first use. Default: false
	// (only the namespace NewServer creates exists).
	AutoCreate bool
}

// Server is a local Cloudflare KV REST API server (package kvserver) on an
// httptest.Server, with one namespace ready.
type Server struct {
	// Server is the handler, for fault injection (Inject) and request counts
	// (Hits), and to reach a namespace's memory backend directly.
	*kvserver.Server
	// HTTP is the running httptest server.
	HTTP *httptest.Server
	// BaseURL is the API base URL to give the SDK (option.WithBaseURL) or
	// CLOUDFLARE_BASE_URL: the server's URL + "/client/v4/".
	BaseURL string
	// Token is the API token the server accepts ("" with NoAuth).
	Token string
	// AccountID is the account ID the server answers for.
	AccountID string
	// NamespaceID is the ID of the namespace created at start.
	NamespaceID string
}

// TestAccountID is the account ID of servers made by NewServer.
const TestAccountID = "0123456789abcdef0123456789abcdef"

// NewServer starts a local KV API server for the test; t.Cleanup stops it.
func NewServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	token := opts.Token
	if token == "" && !opts.NoAuth {
		token = "kvtest-token"
	}
	if opts.NoAuth {
		token = ""
	}
	srv, err := kvserver.New(kvserver.Options{Token: token, AccountID: TestAccountID, AutoCreate: opts.AutoCreate, Clock: opts.Clock})
	if err != nil {
		t.Fatalf("kvtest: %v", err)
	}
	nsID := srv.CreateNamespace("", "kvtest")
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &Server{
		Server:      srv,
		HTTP:        ts,
		BaseURL:     ts.URL + "/client/v4/",
		Token:       token,
		AccountID:   TestAccountID,
		NamespaceID: nsID,
	}
}

// Client returns an HTTP client for the server whose idle connections are
// closed when the server stops.
func (s *Server) Client() *http.Client { return s.HTTP.Client() }

// Env returns the environment variables that point kvkit's Cloudflare
// backend (and the kvkit command) at the server.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"CLOUDFLARE_API_TOKEN":  s.Token,
		"CLOUDFLARE_ACCOUNT_ID": s.AccountID,
		"KVKIT_NAMESPACE_ID":    s.NamespaceID,
		"CLOUDFLARE_BASE_URL":   s.BaseURL,
	}
}
