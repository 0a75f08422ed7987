package memory_test

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
)

// benchPairs returns n counter-like pairs, in key order or shuffled.
func benchPairs(n int, shuffled bool) []kv.Pair {
	pairs := make([]kv.Pair, n)
	for i := range pairs {
		pairs[i] = kv.Pair{Key: "count:page:" + strconv.Itoa(i), Value: []byte("1")}
	}
	if shuffled {
		rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	}
	return pairs
}

func putAll(b *testing.B, ns *memory.Namespace, pairs []kv.Pair) {
	for lo := 0; lo < len(pairs); lo += kv.MaxBulkWrite {
		if err := ns.PutBulk(context.Background(), pairs[lo:min(lo+kv.MaxBulkWrite, len(pairs))]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutBulk writes 100,000 keys in bulk calls of 10,000: new keys
// into an empty namespace, or over keys that exist; in key order or not.
func BenchmarkPutBulk(b *testing.B) {
	for _, order := range []string{"sorted", "shuffled"} {
		pairs := benchPairs(100_000, order == "shuffled")
		b.Run("new/"+order, func(b *testing.B) {
			for b.Loop() {
				putAll(b, memory.New(memory.Options{}), pairs)
			}
		})
		b.Run("overwrite/"+order, func(b *testing.B) {
			ns := memory.New(memory.Options{})
			putAll(b, ns, pairs)
			for b.Loop() {
				putAll(b, ns, pairs)
			}
		})
	}
}

// BenchmarkGet reads random keys of a namespace holding 10 or 100,000.
func BenchmarkGet(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ns := memory.New(memory.Options{})
			pairs := benchPairs(n, false)
			putAll(b, ns, pairs)
			keys := make([]string, 1<<16)
			rng := rand.New(rand.NewPCG(3, 4))
			for i := range keys {
				keys[i] = pairs[rng.IntN(n)].Key
			}
			ctx := context.Background()
			i := 0
			for b.Loop() {
				if _, ok, _ := ns.Get(ctx, keys[i%len(keys)], kv.GetOptions{}); !ok {
					b.Fatal("missing")
				}
				i++
			}
		})
	}
}

// BenchmarkGetSession reads random session-like records (a 51-byte key,
// a 100-byte value with a TTL) of a namespace holding 10 or 100,000, the
// keys read laid out one after the other, as in bench/perf's scale rows.
func BenchmarkGetSession(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ns := memory.New(memory.Options{})
			names := make([]string, n)
			value := []byte(`{"data":{"id":"u12345","role":"user","count":0},"createdAt":1764806400000,"expiresAt":1764892800000}`)
			for i := range names {
				names[i] = "session:" + base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(i) + "-0123456789abcdefghijklmnopqrstu"))[:43]
				if err := ns.Put(context.Background(), names[i], value, kv.PutOptions{TTL: 24 * time.Hour}); err != nil {
					b.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(3, 4))
			var all strings.Builder
			for range 1 << 17 {
				all.WriteString(names[rng.IntN(n)])
			}
			keys := make([]string, 1<<17)
			for i, s := 0, all.String(); i < len(keys); i++ {
				keys[i] = s[i*51 : (i+1)*51]
			}
			ctx := context.Background()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, _ := ns.Get(ctx, keys[i%len(keys)], kv.GetOptions{}); !ok {
					b.Fatal("missing")
				}
				i++
			}
		})
	}
}
