package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	gb "github.com/growthbook/growthbook-golang"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/flags"
)

// The same 50% rollout of flag "new-ui" in both libraries, evaluated for
// flagsUsers distinct users in turn.
const (
	flagsUsers  = 1024
	flagsGBJSON = `{"new-ui": {"defaultValue": false, "rules": [{"force": true, "coverage": 0.5, "hashAttribute": "id"}]}}`
)

func flagsUserIDs() []string {
	ids := make([]string, flagsUsers)
	for i := range ids {
		ids[i] = "user-" + strconv.Itoa(i)
	}
	return ids
}

func flagsKVKit(tb testing.TB) *flags.Client {
	tb.Helper()
	ctx := context.Background()
	ns := memory.New(memory.Options{})
	if err := ns.Put(ctx, "flag:new-ui", []byte(`{"enabled":true,"rolloutPercent":50,"allowlist":[]}`), kv.PutOptions{}); err != nil {
		tb.Fatal(err)
	}
	c, err := flags.New(ns, flags.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	c.IsEnabled(ctx, "new-ui", "warm")
	return c
}

// flagsGrowthBook returns the root client and one child per user (GrowthBook
// binds attributes to a client; building the children is setup, not
// evaluation).
func flagsGrowthBook(tb testing.TB, ids []string) (*gb.Client, []*gb.Client) {
	tb.Helper()
	root, err := gb.NewClient(context.Background(), gb.WithJsonFeatures(flagsGBJSON))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = root.Close() })
	kids := make([]*gb.Client, len(ids))
	for i, id := range ids {
		if kids[i], err = root.WithAttributes(gb.Attributes{"id": id}); err != nil {
			tb.Fatal(err)
		}
	}
	return root, kids
}

// TestFlagsRolloutsAreEquivalent checks that both setups really roll out to
// about half of the users, so the benchmark compares like with like.
func TestFlagsRolloutsAreEquivalent(t *testing.T) {
	ids := flagsUserIDs()
	c := flagsKVKit(t)
	_, kids := flagsGrowthBook(t, ids)
	ctx := context.Background()
	var ours, theirs int
	for i, id := range ids {
		if c.IsEnabled(ctx, "new-ui", id) {
			ours++
		}
		if kids[i].EvalFeature(ctx, "new-ui").On {
			theirs++
		}
	}
	for name, n := range map[string]int{"kvkit": ours, "growthbook": theirs} {
		if share := float64(n) / flagsUsers; share < 0.45 || share > 0.55 {
			t.Errorf("%s: %.3f of users on, want about 0.5", name, share)
		}
	}
}

func BenchmarkFlagsRollout(b *testing.B) {
	ids := flagsUserIDs()
	ctx := context.Background()
	b.Run("kvkit", func(b *testing.B) {
		c := flagsKVKit(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.IsEnabled(ctx, "new-ui", ids[i%flagsUsers])
			i++
		}
	})
	b.Run("growthbook", func(b *testing.B) {
		_, kids := flagsGrowthBook(b, ids)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = kids[i%flagsUsers].EvalFeature(ctx, "new-ui").On
			i++
		}
	})
	b.Run("growthbook-with-attributes", func(b *testing.B) {
		root, _ := flagsGrowthBook(b, nil)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			kid, _ := root.WithAttributes(gb.Attributes{"id": ids[i%flagsUsers]})
			_ = kid.EvalFeature(ctx, "new-ui").On
			i++
		}
	})
}

// BenchmarkFlagsRolloutRatio interleaves chunks of kvkit and GrowthBook
// evaluations (GrowthBook on prebuilt per-user clients, its cheapest form)
// so both see the same machine load, and reports kvkit's time over
// GrowthBook's as "x-growthbook" (target <= 1.0).
func BenchmarkFlagsRolloutRatio(b *testing.B) {
	ids := flagsUserIDs()
	ctx := context.Background()
	c := flagsKVKit(b)
	_, kids := flagsGrowthBook(b, ids)
	const chunk = 1000
	var ours, theirs time.Duration
	var sink bool
	for i := 0; i < b.N; i += chunk {
		n := min(chunk, b.N-i)
		t0 := time.Now()
		for j := range n {
			sink = c.IsEnabled(ctx, "new-ui", ids[(i+j)%flagsUsers])
		}
		t1 := time.Now()
		for j := range n {
			sink = kids[(i+j)%flagsUsers].EvalFeature(ctx, "new-ui").On
		}
		t2 := time.Now()
		ours += t1.Sub(t0)
		theirs += t2.Sub(t1)
	}
	_ = sink
	if theirs > 0 {
		b.ReportMetric(float64(ours)/float64(b.N), "kvkit-ns/op")
		b.ReportMetric(float64(theirs)/float64(b.N), "growthbook-ns/op")
		b.ReportMetric(float64(ours)/float64(theirs), "x-growthbook")
	}
}
