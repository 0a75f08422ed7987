package flags_test

import (
	"context"
	"fmt"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/flags"
)

func Example() {
	ctx := context.Background()
	ns := memory.New(memory.Options{}) // or the Cloudflare backend
	fl, err := flags.New(ns, flags.Options{})
	if err != nil {
		panic(err)
	}
	// Stored under "flag:new-ui" as
	// {"enabled":true,"rolloutPercent":25,"allowlist":["12345"]}.
	err = fl.Set(ctx, "new-ui", flags.Flag{Enabled: true, RolloutPercent: 25, Allowlist: []string{"12345"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(fl.IsEnabled(ctx, "new-ui", "12345"))     // allowlisted
	fmt.Println(fl.IsEnabled(ctx, "new-ui", "user-1"))    // by bucket
	fmt.Printf("%.4f\n", flags.Bucket("new-ui", "12345")) // same as the TypeScript recipe
	fmt.Println(fl.IsEnabled(ctx, "missing", "12345"))
	// Output:
	// true
	// false
	// 6.7339
	// false
}
