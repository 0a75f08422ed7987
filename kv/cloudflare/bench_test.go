package cloudflare_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kvkit/kvkit/kv"
)

// Round trips through the real SDK to the local server on loopback: the
// client-side cost of one call (SDK request building, escaping, JSON
// parsing) plus a loopback HTTP exchange. Against Cloudflare, network
// latency dominates; the figure that matters there is Requests().

func BenchmarkGet(b *testing.B) {
	ns, _ := newBackend(b, time.Now, fastRetries)
	ctx := context.Background()
	if err := ns.Put(ctx, "k", []byte("a small value"), kv.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ns.Get(ctx, "k", kv.GetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetWithMetadata(b *testing.B) {
	ns, _ := newBackend(b, time.Now, fastRetries)
	ctx := context.Background()
	if err := ns.Put(ctx, "k", []byte("a small value"), kv.PutOptions{Metadata: []byte(`{"a":1}`)}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ns.Get(ctx, "k", kv.GetOptions{WithMetadata: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetBulk100(b *testing.B) {
	ns, _ := newBackend(b, time.Now, fastRetries)
	ctx := context.Background()
	keys := make([]string, 100)
	entries := make([]kv.Pair, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("key/%03d", i)
		entries[i] = kv.Pair{Key: keys[i], Value: []byte("a small value")}
	}
	if err := ns.PutBulk(ctx, entries); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ns.GetBulk(ctx, keys, kv.GetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPut(b *testing.B) {
	ns, _ := newBackend(b, time.Now, fastRetries)
	ctx := context.Background()
	value := []byte("a small value")
	b.ReportAllocs()
	for b.Loop() {
		if err := ns.Put(ctx, "k", value, kv.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
