package kvopenfeature_test

import (
	"context"
	"fmt"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/flags"
	kvopenfeature "github.com/kvkit/kvkit/patterns/flags/openfeature"
)

func Example() {
	ctx := context.Background()
	fl, err := flags.New(memory.New(memory.Options{}), flags.Options{})
	if err != nil {
		panic(err)
	}
	_ = fl.Set(ctx, "new-ui", flags.Flag{Enabled: true, RolloutPercent: 25, Allowlist: []string{"12345"}})

	p, err := kvopenfeature.New(fl)
	if err != nil {
		panic(err)
	}
	api := isolated.NewAPI() // or the global openfeature.SetProviderAndWait(p)
	defer api.Shutdown(ctx)
	if err := api.SetProviderAndWait(ctx, p); err != nil {
		panic(err)
	}
	client := api.NewClient()

	d, _ := client.BooleanValueDetails(ctx, "new-ui", false, openfeature.NewEvaluationContext("12345", nil))
	fmt.Println(d.Value, d.Reason)
	d, _ = client.BooleanValueDetails(ctx, "missing", false, openfeature.NewEvaluationContext("12345", nil))
	fmt.Println(d.Value, d.Reason, d.ErrorCode)
	// Output:
	// true TARGETING_MATCH
	// false ERROR FLAG_NOT_FOUND
}
