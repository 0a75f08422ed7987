package bench

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/kvkit/kvkit/internal/lcache"
)

// BenchmarkCacheLocalTier measures the read-through cache's local tier
// (internal/lcache, otter v2 underneath) against
// github.com/hashicorp/golang-lru/v2/expirable, the most used expiring LRU,
// on hits over 10,000 keys, from one goroutine and from all:
//
//	cd bench && go test -run '^$' -bench CacheLocalTier -benchmem
func BenchmarkCacheLocalTier(b *testing.B) {
	const n = 10_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	lc, err := lcache.New(lcache.Options[string, []byte]{MaxEntries: n})
	if err != nil {
		b.Fatal(err)
	}
	lru := expirable.NewLRU[string, []byte](n, nil, time.Hour)
	v := []byte("value")
	for _, k := range keys {
		lc.Set(k, v, time.Hour)
		lru.Add(k, v)
	}
	gets := map[string]func(string) bool{
		"lcache-otter": func(k string) bool { _, ok := lc.Get(k); return ok },
		"golang-lru":   func(k string) bool { _, ok := lru.Get(k); return ok },
	}
	for _, name := range []string{"lcache-otter", "golang-lru"} {
		get := gets[name]
		b.Run(name+"/serial", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if !get(keys[i%n]) {
					b.Fatal("miss")
				}
				i++
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if !get(keys[i%n]) {
						b.Error("miss")
						return
					}
					i += 7
				}
			})
		})
	}
}

// BenchmarkCacheLocalTierHitRatio replays a Zipf-distributed workload
// (s=1.01 over 100,000 keys) through a 10,000-entry local tier, filling on
// miss, and reports the hit ratio: every miss of the read-through cache's
// local tier is a KV read.
func BenchmarkCacheLocalTierHitRatio(b *testing.B) {
	const keys, capacity, ops = 100_000, 10_000, 1_000_000
	trace := make([]string, ops)
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.01, 1, keys-1)
	for i := range trace {
		trace[i] = "k" + strconv.FormatUint(z.Uint64(), 10)
	}
	v := []byte("value")
	for _, name := range []string{"lcache-otter", "golang-lru"} {
		b.Run(name, func(b *testing.B) {
			var ratio float64
			for b.Loop() {
				lc, err := lcache.New(lcache.Options[string, []byte]{MaxEntries: capacity})
				if err != nil {
					b.Fatal(err)
				}
				lru := expirable.NewLRU[string, []byte](capacity, nil, time.Hour)
				hits := 0
				for _, k := range trace {
					if name == "lcache-otter" {
						if _, ok := lc.Get(k); ok {
							hits++
						} else {
							lc.Set(k, v, time.Hour)
						}
					} else {
						if _, ok := lru.Get(k); ok {
							hits++
						} else {
							lru.Add(k, v)
						}
					}
				}
				ratio = float64(hits) / ops
			}
			b.ReportMetric(ratio*100, "hit%")
		})
	}
}
