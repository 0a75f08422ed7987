package cloudflare_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	cfkv "github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/cloudflare"
	"github.com/kvkit/kvkit/kv/kvserver"
)

type User struct {
	Name string `json:"name"`
}

// FromEnv reads CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID and
// KVKIT_NAMESPACE_ID (and CLOUDFLARE_BASE_URL, to use kvkit serve).
func ExampleFromEnv() {
	ns, err := cloudflare.FromEnv(cloudflare.Options{
		MaxAttempts:   4,                // at most 4 requests per call
		MaxRetryAfter: 30 * time.Second, // a longer 429 wait fails at once
	})
	if err != nil {
		log.Fatal(err) // e.g. "kv: config: invalid options: KVKIT_NAMESPACE_ID is not set"
	}
	users, err := kv.New[User](ns, kv.Options{Prefix: "user:", CacheTTL: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := users.Put(ctx, "42", User{Name: "Ana"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ns.Requests().Total(), "requests so far")
}

// New takes the SDK's KV service, configured as you like (or client.KV of
// the SDK's root client, in a program that already uses it).
func ExampleNew() {
	client := cfkv.NewKVService(option.WithAPIToken("your-token"))
	ns, err := cloudflare.New(client, "your-32-hex-account-id", "your-32-hex-namespace-id", cloudflare.Options{})
	if err != nil {
		log.Fatal(err)
	}
	_ = ns
}

// Through a kv.Store, reads and writes of many keys go to the bulk
// endpoints: 250 keys are 3 requests, 25,000 writes are 3 requests.
func ExampleNamespace_Requests() {
	// A local server speaking the Cloudflare KV REST API (what kvkit serve
	// runs), so this example needs no account.
	srv, err := kvserver.New(kvserver.Options{})
	if err != nil {
		log.Fatal(err)
	}
	nsID := srv.CreateNamespace("", "example")
	ts := httptest.NewServer(srv)
	defer ts.Close()
	client := cfkv.NewKVService(option.WithBaseURL(ts.URL+"/client/v4"), option.WithAPIToken("local"), option.WithHTTPClient(ts.Client()))
	ns, err := cloudflare.New(client, "00000000000000000000000000000001", nsID, cloudflare.Options{})
	if err != nil {
		log.Fatal(err)
	}
	counters, _ := kv.New[int](ns, kv.Options{Prefix: "n:"})
	ctx := context.Background()

	entries := make([]kv.PutEntry[int], 25000)
	for i := range entries {
		entries[i] = kv.PutEntry[int]{Key: fmt.Sprint(i), Value: i}
	}
	if err := counters.PutMany(ctx, entries); err != nil {
		log.Fatal(err)
	}
	keys := make([]string, 250)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	got, err := counters.GetMany(ctx, keys)
	if err != nil {
		log.Fatal(err)
	}
	r := ns.Requests()
	fmt.Println(len(got), "values;", r.BulkPut, "bulk writes,", r.BulkGet, "bulk reads")
	// Output: 250 values; 3 bulk writes, 3 bulk reads
}
