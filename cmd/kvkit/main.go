// Command kvkit runs a local Cloudflare Workers KV API server and inspects
// or seeds KV namespaces, local or on Cloudflare.
//
//	kvkit serve  [--addr 127.0.0.1:8787] [--token T] [--data FILE] [--namespace ID] [--auto-create] [--dashboard=false]
//	kvkit get    [--metadata] KEY
//	kvkit put    [--ttl 1h] [--expiration UNIX|RFC3339] [--metadata JSON] KEY VALUE|-
//	kvkit delete KEY
//	kvkit list   [--prefix P] [--long]
//	kvkit flags  list|get|set|delete|eval ...   (feature flags, see flags.go)
//
// get, put, delete, list and flags reach the namespace named by the environment:
// CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, KVKIT_NAMESPACE_ID, and
// CLOUDFLARE_BASE_URL to point at `kvkit serve` instead of Cloudflare
// (serve prints the values to export). With none of the four set they use
// kvkit serve's defaults (127.0.0.1:8787 and its default namespace).
// Errors are one line on stderr and a non-zero exit status (2 for usage
// errors).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// command is one subcommand. Adding one is registering one more (see
// kv.go and serve.go).
type command struct {
	name  string
	args  string // usage after the name
	short string
	// setup declares the command's flags on a fresh FlagSet and returns the
	// function that runs it with the parsed flags and positional args. Flag
	// values live in setup's closure, so concurrent runs share nothing.
	setup func(fs *flag.FlagSet) runFunc
	// long, when set, is printed after the flag defaults by -h.
	long string
	// interspersed lets flags follow positional args (set NAME --rollout
	// 25); "--" ends the flags.
	interspersed bool
	// subs makes the command a group: its first arg names one of them, and
	// setup is unused.
	subs []*command
}

type runFunc func(ctx context.Context, env *environ, args []string) error

// environ is what commands may touch: streams and the environment.
type environ struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

// usageError marks errors that get exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &environ{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run executes one kvkit invocation and returns the exit status.
func run(ctx context.Context, args []string, env *environ) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	i := slices.IndexFunc(commands, func(c *command) bool { return c.name == args[0] })
	if i < 0 {
		fmt.Fprintf(env.stderr, "kvkit: unknown command %q (run kvkit help)\n", args[0])
		return 2
	}
	c, path := commands[i], commands[i].name
	args = args[1:]
	for c.subs != nil {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			groupUsage(env.stderr, path, c)
			if len(args) == 0 {
				return 2
			}
			return 0
		}
		j := slices.IndexFunc(c.subs, func(s *command) bool { return s.name == args[0] })
		if j < 0 {
			fmt.Fprintf(env.stderr, "kvkit %s: unknown command %q (run kvkit %s help)\n", path, args[0], path)
			return 2
		}
		c, path, args = c.subs[j], path+" "+c.subs[j].name, args[1:]
	}
	fs := flag.NewFlagSet("kvkit "+path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runC := c.setup(fs)
	parse := fs.Parse
	if c.interspersed {
		parse = func(args []string) error { return parseInterspersed(fs, args) }
	}
	if err := parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(env.stderr, "usage: kvkit %s %s\n", path, c.args)
			fs.SetOutput(env.stderr)
			fs.PrintDefaults()
			if c.long != "" {
				fmt.Fprintf(env.stderr, "\n%s\n", strings.TrimSpace(c.long))
			}
			return 0
		}
		fmt.Fprintf(env.stderr, "kvkit %s: %v (usage: kvkit %s %s)\n", path, err, path, c.args)
		return 2
	}
	if err := runC(ctx, env, fs.Args()); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(env.stderr, "kvkit %s: %s (usage: kvkit %s %s)\n", path, ue.msg, path, c.args)
			return 2
		}
		fmt.Fprintf(env.stderr, "kvkit %s: %s\n", path, oneLine(err.Error()))
		return 1
	}
	return 0
}

// parseInterspersed parses flags anywhere among args, leaving the
// positional ones, in order, in fs.Args(). After "--" every arg is
// positional.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...) // the terminator
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// groupUsage prints the subcommands of a command group.
func groupUsage(w io.Writer, path string, c *command) {
	fmt.Fprintf(w, "usage: kvkit %s <command> [flags] [args]\n\n", path)
	for _, s := range c.subs {
		fmt.Fprintf(w, "  %-7s %s\n          kvkit %s %s %s\n", s.name, s.short, path, s.name, s.args)
	}
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.long))
	}
	fmt.Fprintf(w, "\nRun kvkit %s <command> -h for a command's flags.\n", path)
}

func oneLine(s string) string {
	s = strings.TrimPrefix(s, "kv: ")
	return strings.Join(strings.Fields(s), " ")
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: kvkit <command> [flags] [args]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-7s %s\n          kvkit %s %s\n", c.name, c.short, c.name, c.args)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "All commands but serve use CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID,")
	fmt.Fprintln(w, "KVKIT_NAMESPACE_ID and, for a local server, CLOUDFLARE_BASE_URL; with")
	fmt.Fprintln(w, "none of them set, a kvkit serve started with its defaults.")
	fmt.Fprintln(w, "Run kvkit <command> -h for a command's flags.")
}
