package worker

import (
	"os"
	"strings"

	"github.com/kvkit/kvkit/kv"
)

// The environment variables FromEnv reads.
const (
	// EnvURL holds the Worker's URL, e.g.
	// https://kvkit-kv.<your-subdomain>.workers.dev (what wrangler deploy
	// prints), or http://127.0.0.1:8787 for wrangler dev. Required.
	EnvURL = "KVKIT_WORKER_URL"
	// EnvSecret holds the shared secret: the value given to
	// wrangler secret put KVKIT_SECRET (or KVKIT_SECRET_NEXT while
	// rotating). At least MinSecretLength characters. Required.
	EnvSecret = "KVKIT_WORKER_SECRET"
)

// Env is the configuration FromEnv reads.
type Env struct {
	URL    string // from EnvURL
	Secret string // from EnvSecret
}

// LoadEnv reads and checks the variables from the process environment.
func LoadEnv() (Env, error) { return ParseEnv(os.Getenv) }

// ParseEnv reads and checks the variables through getenv. A missing or
// malformed setting is an error naming the variable and wrapping
// kv.ErrInvalidOptions.
func ParseEnv(getenv func(string) string) (Env, error) {
	e := Env{URL: strings.TrimSpace(getenv(EnvURL)), Secret: strings.TrimSpace(getenv(EnvSecret))}
	return e, e.Validate()
}

// Validate checks both fields, naming the variable of the first bad one.
// The secret itself never appears in the message.
func (e Env) Validate() error {
	switch {
	case e.URL == "":
		return envErr(EnvURL, "is not set")
	case e.Secret == "":
		return envErr(EnvSecret, "is not set")
	}
	if _, err := checkURL(e.URL); err != nil {
		return envErr(EnvURL, err.Error())
	}
	if err := checkSecret(e.Secret); err != nil {
		return envErr(EnvSecret, err.Error())
	}
	return nil
}

func envErr(name, msg string) error {
	return &kv.Error{Op: "config", Err: invalid(name + ": " + msg)}
}

// Open returns the Namespace e names.
func (e Env) Open(opts Options) (*Namespace, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return New(e.URL, e.Secret, opts)
}

// FromEnv returns the Namespace named by the environment: EnvURL and
// EnvSecret.
func FromEnv(opts Options) (*Namespace, error) {
	e, err := LoadEnv()
	if err != nil {
		return nil, err
	}
	return e.Open(opts)
}
