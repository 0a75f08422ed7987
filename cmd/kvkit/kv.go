package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/cloudflare"
	"github.com/kvkit/kvkit/kv/kvserver"
)

// callTimeout bounds one command's API calls (retries included).
const callTimeout = 60 * time.Second

func open(env *environ) (*cloudflare.Namespace, error) {
	e, err := cloudflare.ParseEnv(localDefaults(env.getenv))
	if err != nil {
		return nil, err
	}
	return e.Open(cloudflare.Options{})
}

// localDefaults returns getenv, or, when none of the four variables is
// set, kvkit serve's defaults: its address, the token it prints, its
// account ID and the namespace it creates at start-up. So, as with the
// demo's -backend local, `kvkit serve` in one terminal and `kvkit flags set
// ...` in another work with nothing exported. Any variable set means the
// environment is meant: a missing one is then an error naming it.
func localDefaults(getenv func(string) string) func(string) string {
	for _, k := range []string{cloudflare.EnvAPIToken, cloudflare.EnvAccountID, cloudflare.EnvNamespaceID, cloudflare.EnvBaseURL} {
		if getenv(k) != "" {
			return getenv
		}
	}
	defaults := map[string]string{
		cloudflare.EnvBaseURL:     kvserver.DefaultBaseURL,
		cloudflare.EnvAPIToken:    kvserver.DefaultToken,
		cloudflare.EnvAccountID:   kvserver.DefaultAccountID,
		cloudflare.EnvNamespaceID: kvserver.DefaultNamespaceID,
	}
	return func(k string) string { return defaults[k] }
}

func init() {
	register(&command{
		name:  "get",
		args:  "[--metadata] KEY",
		short: "print a key's value (or its metadata)",
		setup: func(fs *flag.FlagSet) runFunc {
			withMeta := fs.Bool("metadata", false, "print the key's metadata JSON instead of its value")
			return func(ctx context.Context, env *environ, args []string) error {
				if len(args) != 1 {
					return usagef("want one KEY")
				}
				ns, err := open(env)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				it, found, err := ns.Get(ctx, args[0], kv.GetOptions{WithMetadata: *withMeta})
				if err != nil {
					return err
				}
				if !found {
					return fmt.Errorf("%q: key not found", args[0])
				}
				if *withMeta {
					meta := it.Metadata
					if meta == nil {
						meta = json.RawMessage("null")
					}
					_, err = fmt.Fprintf(env.stdout, "%s\n", meta)
					return err
				}
				_, err = env.stdout.Write(it.Value)
				return err
			}
		},
	})

	register(&command{
		name:  "put",
		args:  "[--ttl D] [--expiration T] [--metadata JSON] KEY VALUE|-",
		short: "write a value (\"-\" reads it from stdin)",
		setup: func(fs *flag.FlagSet) runFunc {
			ttl := fs.String("ttl", "", "expire after this long: a Go duration (1h30m) or seconds; at least 60s")
			expiration := fs.String("expiration", "", "expire at this time: Unix seconds or RFC 3339")
			metadata := fs.String("metadata", "", "JSON metadata to store with the key (at most 1024 bytes)")
			return func(ctx context.Context, env *environ, args []string) error {
				if len(args) != 2 {
					return usagef("want KEY and VALUE (or - for stdin)")
				}
				var opts kv.PutOptions
				if *ttl != "" {
					d, err := parseTTL(*ttl)
					if err != nil {
						return usagef("--ttl: %v", err)
					}
					opts.TTL = d
				}
				if *expiration != "" {
					t, err := parseTime(*expiration)
					if err != nil {
						return usagef("--expiration: %v", err)
					}
					opts.Expiration = t
				}
				if *metadata != "" {
					if !json.Valid([]byte(*metadata)) {
						return usagef("--metadata is not valid JSON")
					}
					opts.Metadata = json.RawMessage(*metadata)
				}
				value := []byte(args[1])
				if args[1] == "-" {
					b, err := io.ReadAll(io.LimitReader(env.stdin, kv.MaxValueSize+1))
					if err != nil {
						return err
					}
					value = b
				}
				ns, err := open(env)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				return ns.Put(ctx, args[0], value, opts)
			}
		},
	})

	register(&command{
		name:  "delete",
		args:  "KEY",
		short: "delete a key (a missing key is not an error)",
		setup: func(*flag.FlagSet) runFunc {
			return func(ctx context.Context, env *environ, args []string) error {
				if len(args) != 1 {
					return usagef("want one KEY")
				}
				ns, err := open(env)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				return ns.Delete(ctx, args[0])
			}
		},
	})

	register(&command{
		name:  "list",
		args:  "[--prefix P] [--long]",
		short: "print keys, one per line, in UTF-8 byte order",
		setup: func(fs *flag.FlagSet) runFunc {
			prefix := fs.String("prefix", "", "only keys starting with this")
			long := fs.Bool("long", false, "also print expiration (RFC 3339) and metadata, tab-separated")
			return func(ctx context.Context, env *environ, args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				ns, err := open(env)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				store, err := kv.New[[]byte](ns, kv.Options{Codec: kv.Bytes})
				if err != nil {
					return err
				}
				for k, err := range store.Keys(ctx, kv.ListOptions{Prefix: *prefix}) {
					if err != nil {
						return err
					}
					if !*long {
						fmt.Fprintln(env.stdout, printable(k.Name))
						continue
					}
					exp := "-"
					if !k.Expiration.IsZero() {
						exp = k.Expiration.UTC().Format(time.RFC3339)
					}
					meta := "-"
					if k.Metadata != nil {
						meta = string(k.Metadata)
					}
					fmt.Fprintf(env.stdout, "%s\t%s\t%s\n", strconv.Quote(k.Name), exp, meta)
				}
				return nil
			}
		},
	})
}

// printable escapes what would break line-oriented output (newlines,
// control characters, invalid UTF-8) the way Go string literals do.
func printable(key string) string {
	q := strconv.Quote(key)
	if q[1:len(q)-1] == key || !needsEscape(key) {
		return key
	}
	return q
}

func needsEscape(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return true
		}
	}
	return false
}

func parseTTL(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration or a number of seconds: " + strconv.Quote(s))
	}
	return d, nil
}

func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("not Unix seconds or RFC 3339: " + strconv.Quote(s))
	}
	return t, nil
}
