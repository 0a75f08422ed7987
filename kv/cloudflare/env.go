package cloudflare

import (
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	cfkv "github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/kvkit/kvkit/kv"
)

// The environment variables FromEnv reads.
const (
	// EnvAPIToken holds an API token with "Workers KV Storage Read" (and
	// "Write", to write) permission. Required.
	EnvAPIToken = "CLOUDFLARE_API_TOKEN"
	// EnvAccountID holds the account ID: 32 hex digits. Required.
	EnvAccountID = "CLOUDFLARE_ACCOUNT_ID"
	// EnvNamespaceID holds the KV namespace ID: 32 hex digits, as shown by
	// `wrangler kv namespace list`. Required.
	EnvNamespaceID = "KVKIT_NAMESPACE_ID"
	// EnvBaseURL overrides the API base URL, e.g. to point at `kvkit serve`
	// (http://127.0.0.1:8787/client/v4). It is the SDK's own variable.
	// Optional. Default: https://api.cloudflare.com/client/v4/.
	EnvBaseURL = "CLOUDFLARE_BASE_URL"
)

// Env is the configuration FromEnv reads.
type Env struct {
	APIToken    string // from EnvAPIToken
	AccountID   string // from EnvAccountID
	NamespaceID string // from EnvNamespaceID
	BaseURL     string // from EnvBaseURL; "" = Cloudflare's production API
}

// LoadEnv reads and checks the variables from the process environment.
func LoadEnv() (Env, error) { return ParseEnv(os.Getenv) }

// ParseEnv reads and checks the variables through getenv. A missing or
// malformed setting is an error naming the variable and wrapping
// kv.ErrInvalidOptions.
func ParseEnv(getenv func(string) string) (Env, error) {
	e := Env{
		APIToken:    strings.TrimSpace(getenv(EnvAPIToken)),
		AccountID:   strings.TrimSpace(getenv(EnvAccountID)),
		NamespaceID: strings.TrimSpace(getenv(EnvNamespaceID)),
		BaseURL:     strings.TrimSpace(getenv(EnvBaseURL)),
	}
	return e, e.Validate()
}

// Validate checks every field, naming the variable of the first bad one.
func (e Env) Validate() error {
	switch {
	case e.APIToken == "":
		return envErr(EnvAPIToken, "is not set")
	case strings.ContainsAny(e.APIToken, " \t\r\n"):
		return envErr(EnvAPIToken, "contains whitespace")
	case e.AccountID == "":
		return envErr(EnvAccountID, "is not set")
	case !isHexID(e.AccountID):
		return envErr(EnvAccountID, "must be 32 hex digits, got "+strconv.Quote(e.AccountID))
	case e.NamespaceID == "":
		return envErr(EnvNamespaceID, "is not set")
	case !isHexID(e.NamespaceID):
		return envErr(EnvNamespaceID, "must be 32 hex digits, got "+strconv.Quote(e.NamespaceID))
	}
	if e.BaseURL != "" {
		u, err := url.Parse(e.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return envErr(EnvBaseURL, "must be an http(s) URL, got "+strconv.Quote(e.BaseURL))
		}
	}
	return nil
}

func envErr(name, msg string) error {
	return &kv.Error{Op: "config", Err: invalid(name + " " + msg)}
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

// Service returns the SDK's KV service for e: its token and base URL (or
// Cloudflare's production API), opts' HTTPClient, and the SDK's retries
// off. Unlike the SDK's root client it reads no environment variable.
func (e Env) Service(opts Options) *cfkv.KVService {
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	ro := []option.RequestOption{option.WithEnvironmentProduction(), option.WithAPIToken(e.APIToken), option.WithHTTPClient(hc), option.WithMaxRetries(0)}
	if e.BaseURL != "" {
		ro = append(ro, option.WithBaseURL(e.BaseURL))
	}
	return cfkv.NewKVService(ro...)
}

// Open returns the Namespace e names.
func (e Env) Open(opts Options) (*Namespace, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return New(e.Service(opts), e.AccountID, e.NamespaceID, opts)
}

// FromEnv returns the Namespace named by the environment: EnvAPIToken,
// EnvAccountID, EnvNamespaceID, and optionally EnvBaseURL.
func FromEnv(opts Options) (*Namespace, error) {
	e, err := LoadEnv()
	if err != nil {
		return nil, err
	}
	return e.Open(opts)
}
