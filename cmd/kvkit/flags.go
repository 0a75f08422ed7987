package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/patterns/flags"
)

// flagsLong is the help of the flags group and of flags set.
const flagsLong = `
Flags are JSON definitions under a key prefix (default "flag:"), read by
patterns/flags and by the TypeScript recipe alike:
  {"enabled": true, "rolloutPercent": 25, "allowlist": ["12345"]}

set merges: options you give replace those fields, the others keep their
stored values (a new flag starts from {"enabled": false, "rolloutPercent": 0}).
So "kvkit flags set new-ui --rollout 75" keeps enabled and the allowlist;
--enabled=false turns a flag off; --allow "" empties the allowlist; --replace
starts from an empty definition instead. The read and the write are two
calls: two people setting one flag at once can lose an update.
Every value is checked as patterns/flags checks it before any KV call.`

func init() {
	register(&command{
		name:  "flags",
		args:  "list|get|set|delete|eval [flags] [NAME [USER]]",
		short: "manage feature flags (patterns/flags definitions)",
		long:  flagsLong,
		subs: []*command{
			flagsListCmd(), flagsGetCmd(), flagsSetCmd(), flagsDeleteCmd(), flagsEvalCmd(),
		},
	})
}

// prefixFlag declares --prefix on fs.
func prefixFlag(fs *flag.FlagSet) *string {
	return fs.String("prefix", flags.DefaultPrefix, "key prefix of flag definitions")
}

// checkName validates a flag name exactly as flags.Client does (a valid KV
// key once prefixed), plus what the Client accepts but a person never
// means: an empty name, which would store the bare prefix.
func checkName(prefix, name string) error {
	if prefix == "" {
		prefix = flags.DefaultPrefix
	}
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	if name == "" {
		return usagef("the flag name is empty")
	}
	if err := flags.ValidateName(prefix, name); err != nil {
		return usagef("flag %s: %s", printable(name), oneLine(err.Error()))
	}
	return nil
}

// oneName checks that args is exactly one valid flag name under prefix.
func oneName(prefix string, args []string) error {
	if len(args) != 1 {
		return usagef("want one NAME")
	}
	return checkName(prefix, args[0])
}

// openFlags opens the namespace from the environment and a flags client on
// it. It makes no KV call.
func openFlags(env *environ, prefix string) (*flags.Client, error) {
	ns, err := open(env)
	if err != nil {
		return nil, err
	}
	// The command reports a failed read itself, as its one line: the
	// client's warning log would be a second.
	return flags.New(ns, flags.Options{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
}

// storedFlag reads the definition of flag name from KV, one read, decoded
// but not validated (the caller validates what it writes). It is the zero
// Flag when absent.
func storedFlag(ctx context.Context, env *environ, prefix, name string) (flags.Flag, error) {
	var f flags.Flag
	ns, err := open(env)
	if err != nil {
		return f, err
	}
	if prefix == "" {
		prefix = flags.DefaultPrefix
	}
	it, found, err := ns.Get(ctx, prefix+name, kv.GetOptions{})
	if err != nil || !found {
		return f, err
	}
	if err := kv.JSON.Unmarshal(it.Value, &f); err != nil {
		return f, &kv.Error{Op: "get", Key: prefix + name, Err: errors.Join(kv.ErrCodec, err)}
	}
	return f, nil
}

func flagsListCmd() *command {
	return &command{
		name:         "list",
		args:         "[--prefix P] [--json]",
		short:        "print every flag: name, enabled, rollout, allowlist",
		interspersed: true,
		setup: func(fs *flag.FlagSet) runFunc {
			prefix := prefixFlag(fs)
			asJSON := fs.Bool("json", false, "print a JSON object of definitions by name")
			return func(ctx context.Context, env *environ, args []string) error {
				if len(args) != 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if err := checkPrefix(*prefix); err != nil {
					return err
				}
				c, err := openFlags(env, *prefix)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				all, err := c.List(ctx)
				if err != nil {
					return err
				}
				if *asJSON {
					return writeJSON(env.stdout, all)
				}
				names := make([]string, 0, len(all))
				for n := range all {
					names = append(names, n)
				}
				slices.Sort(names)
				tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tENABLED\tROLLOUT\tALLOWLIST")
				for _, n := range names {
					f := all[n]
					allow := "-"
					if len(f.Allowlist) > 0 {
						allow = strings.Join(f.Allowlist, ",")
					}
					fmt.Fprintf(tw, "%s\t%t\t%s%%\t%s\n", printable(n), f.Enabled, formatNum(f.RolloutPercent), printable(allow))
				}
				return tw.Flush()
			}
		},
	}
}

func flagsGetCmd() *command {
	return &command{
		name:         "get",
		args:         "[--prefix P] NAME",
		short:        "print a flag's stored JSON definition",
		interspersed: true,
		setup: func(fs *flag.FlagSet) runFunc {
			prefix := prefixFlag(fs)
			return func(ctx context.Context, env *environ, args []string) error {
				if err := oneName(*prefix, args); err != nil {
					return err
				}
				ns, err := open(env)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				// The stored bytes, not a re-encoding: what a Worker reads.
				p := *prefix
				if p == "" {
					p = flags.DefaultPrefix
				}
				it, found, err := ns.Get(ctx, p+args[0], kv.GetOptions{})
				if err != nil {
					return err
				}
				if !found {
					return fmt.Errorf("flag %q not found (key %q)", args[0], p+args[0])
				}
				_, err = fmt.Fprintf(env.stdout, "%s\n", strings.TrimRight(string(it.Value), "\n"))
				return err
			}
		},
	}
}

func flagsSetCmd() *command {
	return &command{
		name:  "set",
		args:  "NAME [--enabled[=false]] [--rollout PCT] [--allow ID,ID] [--deny ID,ID] [--variants A:W,B:W] [--replace] [--prefix P]",
		short: "create or update a flag; unspecified options keep their stored values",
		long:  flagsLong,
		// Flags after NAME read naturally: set new-ui --rollout 25.
		interspersed: true,
		setup: func(fs *flag.FlagSet) runFunc {
			prefix := prefixFlag(fs)
			enabled := fs.Bool("enabled", false, "switch the flag on (--enabled=false: off for everyone)")
			rollout := fs.Float64("rollout", 0, "share of users who get the flag, 0 to 100 (fractions allowed)")
			allow := fs.String("allow", "", "user IDs who always get the enabled flag, comma-separated (\"\" empties the list)")
			deny := fs.String("deny", "", "user IDs who never get the flag, comma-separated (\"\" empties the list)")
			variants := fs.String("variants", "", "weighted variants NAME:WEIGHT,... for A/B tests (\"\" removes them)")
			replace := fs.Bool("replace", false, "start from an empty definition instead of the stored one")
			return func(ctx context.Context, env *environ, args []string) error {
				if len(args) != 1 {
					if len(args) > 1 && (args[1] == "true" || args[1] == "false") {
						return usagef("unexpected argument %q: write --enabled=%s", args[1], args[1])
					}
					return usagef("want one NAME")
				}
				name := args[0]
				given := map[string]bool{}
				fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

				// Everything is checked before any KV call, by the flags
				// package's own rules where it has them.
				if err := checkName(*prefix, name); err != nil {
					return err
				}
				var patch flags.Flag
				if given["rollout"] {
					patch.RolloutPercent = *rollout
					if err := (flags.Flag{RolloutPercent: *rollout}).Validate(); err != nil {
						return usagef("--rollout: %s", flagsMsg(err))
					}
				}
				if given["variants"] {
					vs, err := parseVariants(*variants)
					if err != nil {
						return usagef("--variants: %v", err)
					}
					if err := (flags.Flag{Variants: vs}).Validate(); err != nil {
						return usagef("--variants: %s", flagsMsg(err))
					}
					patch.Variants = vs
				}

				c, err := openFlags(env, *prefix)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				var f flags.Flag
				if !*replace {
					// The stored definition, read afresh (zero when absent):
					// not the client's snapshot of every flag.
					if f, err = storedFlag(ctx, env, *prefix, name); err != nil {
						return err
					}
				}
				if given["enabled"] {
					f.Enabled = *enabled
				}
				if given["rollout"] {
					f.RolloutPercent = patch.RolloutPercent
				}
				if given["allow"] {
					f.Allowlist = splitIDs(*allow)
				}
				if given["deny"] {
					f.Denylist = splitIDs(*deny)
				}
				if given["variants"] {
					f.Variants = patch.Variants
				}
				if err := c.Set(ctx, name, f); err != nil {
					if errors.Is(err, flags.ErrInvalidFlag) {
						// A stored field the options did not replace.
						return fmt.Errorf("flag %q: %s", name, flagsMsg(err))
					}
					return err
				}
				if f.Allowlist == nil {
					f.Allowlist = []string{} // as Set stored it
				}
				b, err := json.Marshal(f)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(env.stdout, "%s\n", b)
				return err
			}
		},
	}
}

func flagsDeleteCmd() *command {
	return &command{
		name:         "delete",
		args:         "[--prefix P] NAME",
		short:        "delete a flag (a missing flag is not an error)",
		interspersed: true,
		setup: func(fs *flag.FlagSet) runFunc {
			prefix := prefixFlag(fs)
			return func(ctx context.Context, env *environ, args []string) error {
				if err := oneName(*prefix, args); err != nil {
					return err
				}
				c, err := openFlags(env, *prefix)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				return c.Delete(ctx, args[0])
			}
		},
	}
}

// flagsEval is the --json output of flags eval.
type flagsEval struct {
	Flag     string          `json:"flag"`
	User     string          `json:"user"`
	Bucket   float64         `json:"bucket"`
	Found    bool            `json:"found"`
	Rollout  float64         `json:"rolloutPercent"`
	Decision flags.Decision  `json:"decision"`
	Why      string          `json:"why"`
	Def      json.RawMessage `json:"definition"`
}

func flagsEvalCmd() *command {
	return &command{
		name:         "eval",
		args:         "[--prefix P] [--json] NAME USER",
		short:        "show a user's bucket and the decision, with the rule that made it",
		interspersed: true,
		setup: func(fs *flag.FlagSet) runFunc {
			prefix := prefixFlag(fs)
			asJSON := fs.Bool("json", false, "print the result as JSON")
			return func(ctx context.Context, env *environ, args []string) error {
				if len(args) != 2 {
					return usagef("want NAME and USER")
				}
				name, user := args[0], args[1]
				if err := checkName(*prefix, name); err != nil {
					return err
				}
				c, err := openFlags(env, *prefix)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				f, found, err := c.Get(ctx, name)
				if err != nil {
					return err
				}
				var d flags.Decision
				if found {
					d = f.Evaluate(name, user)
				} else {
					d = flags.Decision{Reason: flags.ReasonNotFound}
				}
				r := flagsEval{
					Flag: name, User: user, Bucket: flags.Bucket(name, user),
					Found: found, Rollout: f.RolloutPercent, Decision: d,
				}
				r.Why = explain(r, c.Prefix())
				if *asJSON {
					r.Def = json.RawMessage("null")
					if found {
						if r.Def, err = json.Marshal(f); err != nil {
							return err
						}
					}
					return writeJSON(env.stdout, r)
				}
				state := "off"
				if d.Enabled {
					state = "on"
				}
				if d.Variant != "" {
					state += ", variant " + d.Variant
				}
				tw := tabwriter.NewWriter(env.stdout, 0, 4, 1, ' ', 0)
				fmt.Fprintf(tw, "flag:\t%s\n", printable(name))
				fmt.Fprintf(tw, "user:\t%s\n", printable(user))
				fmt.Fprintf(tw, "bucket:\t%s\n", formatNum(r.Bucket))
				if found {
					fmt.Fprintf(tw, "rollout:\t%s%%\n", formatNum(f.RolloutPercent))
				}
				fmt.Fprintf(tw, "decision:\t%s\n", state)
				fmt.Fprintf(tw, "reason:\t%s: %s\n", d.Reason, r.Why)
				return tw.Flush()
			}
		},
	}
}

// explain says in words why the decision was made.
func explain(r flagsEval, prefix string) string {
	b, p := formatNum(r.Bucket), formatNum(r.Rollout)
	switch r.Decision.Reason {
	case flags.ReasonNotFound:
		return fmt.Sprintf("no flag stored under %q, so off", prefix+r.Flag)
	case flags.ReasonDisabled:
		return "enabled is false, so off for everyone"
	case flags.ReasonDenied:
		return "the user is in the denylist"
	case flags.ReasonAllowed:
		return "the user is in the allowlist"
	case flags.ReasonRollout:
		if r.Decision.Enabled {
			return fmt.Sprintf("bucket %s < rolloutPercent %s", b, p)
		}
		return fmt.Sprintf("bucket %s >= rolloutPercent %s", b, p)
	}
	return r.Decision.Reason.String()
}

// checkPrefix applies kv.New's rule for a Store prefix.
func checkPrefix(prefix string) error {
	if len(prefix) >= kv.MaxKeySize {
		return usagef("--prefix is %d bytes, must be under %d", len(prefix), kv.MaxKeySize)
	}
	return nil
}

// splitIDs splits a comma-separated list of user IDs, trimming spaces and
// dropping empty items. It never returns nil, so "" stores an empty list.
func splitIDs(s string) []string {
	ids := []string{}
	for id := range strings.SplitSeq(s, ",") {
		if id = strings.TrimSpace(id); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// parseVariants parses NAME:WEIGHT,NAME:WEIGHT ("" is no variants).
func parseVariants(s string) ([]flags.Variant, error) {
	var vs []flags.Variant
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndexByte(item, ':')
		if i < 0 {
			return nil, fmt.Errorf("%q is not NAME:WEIGHT", item)
		}
		w, err := strconv.ParseFloat(item[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("%q: weight is not a number", item)
		}
		vs = append(vs, flags.Variant{Name: item[:i], Weight: w})
	}
	return vs, nil
}

// flagsMsg is a flags error without the package prefix.
func flagsMsg(err error) string {
	return strings.TrimPrefix(err.Error(), string(flags.ErrInvalidFlag)+": ")
}

// formatNum prints a number in the fewest digits that read back exactly,
// without an exponent: for a bucket, the digits JavaScript's String(n)
// prints (which switches to an exponent below 1e-6).
func formatNum(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// writeJSON prints v as indented JSON, "<" and ">" left as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
