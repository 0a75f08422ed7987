package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/flags"
)

// flagNS returns a namespace holding n flags "f0".."f<n-1>", each a 50%
// rollout, and their names.
func flagNS(n int) (*memory.Namespace, []string, error) {
	ns := memory.New(memory.Options{})
	names := make([]string, n)
	pairs := make([]kv.Pair, 0, kv.MaxBulkWrite)
	def := []byte(`{"enabled":true,"rolloutPercent":50,"allowlist":[]}`)
	for i := range names {
		names[i] = "f" + strconv.Itoa(i)
		pairs = append(pairs, kv.Pair{Key: flags.DefaultPrefix + names[i], Value: def})
		if len(pairs) == cap(pairs) || i == n-1 {
			if err := ns.PutBulk(ctx, pairs); err != nil {
				return nil, nil, err
			}
			pairs = pairs[:0]
		}
	}
	return ns, names, nil
}

func flagUsers() []string {
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = "user-" + strconv.Itoa(i)
	}
	return ids
}

// checks evaluates the flags in order for users in turn.
func checks(fc *flags.Client, names []string) Side {
	users := flagUsers()
	i := 0
	return func(n int) {
		for range n {
			_ = fc.IsEnabled(ctx, names[i%len(names)], users[i%len(users)])
			i++
		}
	}
}

// warmFlags checks every flag once, so that all are loaded.
func warmFlags(fc *flags.Client, names []string) error {
	for _, name := range names {
		if _, err := fc.Evaluate(ctx, name, "warm"); err != nil {
			return err
		}
	}
	return nil
}

func rowFlagsScale(c *Config) (Line, error) {
	big, small := c.n(10_000, 1000), 10
	nsb, nb, err := flagNS(big)
	if err != nil {
		return Line{}, err
	}
	nss, nsm, err := flagNS(small)
	if err != nil {
		return Line{}, err
	}
	fb, fs := flags.Must(flags.New(nsb, flags.Options{Logger: quiet})), flags.Must(flags.New(nss, flags.Options{Logger: quiet}))
	t0 := time.Now()
	if err := warmFlags(fb, nb); err != nil {
		return Line{}, err
	}
	warm := time.Since(t0)
	if err := warmFlags(fs, nsm); err != nil {
		return Line{}, err
	}
	cmp := c.Compare("flags-10k", Pair{Ours: checks(fb, inOrder(nb, orderLen, 5)), Ref: checks(fs, inOrder(nsm, orderLen, 6))})
	l := ratioLine(cmp, 1.3, nil)
	l.Notes = fmt.Sprintf("%s; IsEnabled of a random loaded flag, %d vs %d flags, default options (warming %d flags took %v)",
		l.Notes, big, small, big, warm.Round(time.Millisecond))
	return l, nil
}

func rowFlagsFirst(c *Config) (Line, error) {
	n := c.n(10_000, 1000)
	ns, names, err := flagNS(n)
	if err != nil {
		return Line{}, err
	}
	var calls string
	ours := func() (Prepared, error) {
		counted := newBulkCount(ns)
		fc, err := flags.New(counted, flags.Options{Logger: quiet})
		if err != nil {
			return nil, err
		}
		return func() error {
			err := warmFlags(fc, names)
			calls = counted.String()
			return err
		}, nil
	}
	ref := func() (Prepared, error) {
		st, err := kv.New[flags.Flag](ns, kv.Options{Prefix: flags.DefaultPrefix})
		if err != nil {
			return nil, err
		}
		return func() error {
			keys, err := st.ListAll(ctx, kv.ListOptions{})
			if err != nil {
				return err
			}
			ks := make([]string, len(keys))
			for i, k := range keys {
				ks[i] = k.Name
			}
			got, err := st.GetMany(ctx, ks)
			if err == nil && len(got) != n {
				err = fmt.Errorf("GetMany: %d of %d", len(got), n)
			}
			return err
		}, nil
	}
	o, r, rounds, err := c.OneShot("flags-first", ours, ref, 2*time.Second)
	if err != nil {
		return Line{}, err
	}
	limit := 50 * time.Millisecond
	return Line{
		Ours: fmtNs(float64(o)), Ref: fmtNs(float64(r)) + " (kv.Store ListAll + GetMany)",
		Ratio: fmt.Sprintf("%.2f×", float64(o)/float64(r)), Pass: o <= limit, Judged: true,
		Notes: fmt.Sprintf("first check of each of %d flags on a new Client, default options: %s per flag; %s; median of %d rounds",
			n, fmtNs(float64(o)/float64(n)), calls, rounds),
	}, nil
}

func rowFlagMem(c *Config) (Line, error) {
	n := c.n(10_000, 1000)
	ns, names, err := flagNS(n)
	if err != nil {
		return Line{}, err
	}
	per, err := HeapPerEntry(n, func(int) (any, error) {
		fc, err := flags.New(ns, flags.Options{Logger: quiet})
		if err != nil {
			return nil, err
		}
		return fc, warmFlags(fc, names)
	})
	if err != nil {
		return Line{}, err
	}
	return Line{
		Ours: fmtBytes(per) + "/flag", Ref: "-", Ratio: "-",
		Notes: fmt.Sprintf("live heap of a flags.Client per loaded flag (a 50%% rollout, empty allowlist), %d flags, default options", n),
	}, nil
}
