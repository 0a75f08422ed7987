package counter_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/counter"
)

// The hot path: Increment of a known counter makes no KV call. The flusher
// is driven by a tick channel nobody sends on, so no I/O happens during the
// measurement.
func BenchmarkIncrement(b *testing.B) {
	for _, keys := range []int{1, 1000} {
		b.Run("keys="+strconv.Itoa(keys), func(b *testing.B) {
			ctx := context.Background()
			clock := kvtest.NewClock()
			c, err := counter.New(memory.New(memory.Options{Clock: clock.Now}), counter.Options{
				Clock: clock.Now, Tick: make(chan time.Time), Logger: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(ctx)
			names := make([]string, keys)
			for i := range names {
				names[i] = "k" + strconv.Itoa(i)
				if _, err := c.Increment(ctx, names[i], 1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := c.Increment(ctx, names[i%keys], 1); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	ctx := context.Background()
	clock := kvtest.NewClock()
	l, err := counter.NewLimiter(memory.New(memory.Options{Clock: clock.Now}), 1<<30, time.Minute, counter.LimiterOptions{
		Clock: clock.Now, Tick: make(chan time.Time), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(ctx)
	if _, err := l.Allow(ctx, "203.0.113.7"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Allow(ctx, "203.0.113.7"); err != nil {
			b.Fatal(err)
		}
	}
}
