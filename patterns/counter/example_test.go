package counter_test

import (
	"context"
	"fmt"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/counter"
)

func ExampleCounter() {
	ctx := context.Background()
	ns := memory.New(memory.Options{})
	_ = ns.Put(ctx, "count:visits", []byte("41"), kv.PutOptions{}) // written by a Worker

	c, err := counter.New(ns, counter.Options{}) // coalesced, "count:" prefix, 1 s flushes
	if err != nil {
		panic(err)
	}
	n, _ := c.Increment(ctx, "visits", 1) // one read the first time, then none
	fmt.Println("value:", n)

	_ = c.Close(ctx) // writes what is pending and stops the flusher
	it, _, _ := ns.Get(ctx, "count:visits", kv.GetOptions{})
	fmt.Println("stored:", string(it.Value))
	// Output:
	// value: 42
	// stored: 42
}

func ExampleCounter_sharded() {
	ctx := context.Background()
	ns := memory.New(memory.Options{})
	a, _ := counter.New(ns, counter.Options{Mode: counter.Sharded, Instance: "web-1"})
	b, _ := counter.New(ns, counter.Options{Mode: counter.Sharded, Instance: "web-2"})
	_, _ = a.Increment(ctx, "signups", 2)
	_, _ = b.Increment(ctx, "signups", 3)
	_ = a.Close(ctx) // writes count:signups:web-1
	_ = b.Close(ctx) // writes count:signups:web-2

	r, _ := counter.New(ns, counter.Options{Mode: counter.Sharded, Instance: "reader"})
	defer r.Close(ctx)
	n, _ := r.Get(ctx, "signups") // one listing sums the shards
	fmt.Println(n)
	// Output: 5
}

func ExampleLimiter() {
	ctx := context.Background()
	lim, err := counter.NewLimiter(memory.New(memory.Options{}), 2, time.Minute, counter.LimiterOptions{})
	if err != nil {
		panic(err)
	}
	defer lim.Close(ctx)
	for range 3 {
		res, _ := lim.Allow(ctx, "203.0.113.7")
		fmt.Println(res.Allowed, res.Remaining)
	}
	// Output:
	// true 1
	// true 0
	// false 0
}
