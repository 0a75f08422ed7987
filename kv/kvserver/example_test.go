package kvserver_test

import (
	"context"
	"errors"
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

// Fault injection: the next two reads get a 429 with Retry-After, and the
// backend retries them.
func ExampleServer_Inject() {
	srv, err := kvserver.New(kvserver.Options{Token: "secret"})
	if err != nil {
		log.Fatal(err)
	}
	nsID := srv.CreateNamespace("", "example")
	ts := httptest.NewServer(srv)
	defer ts.Close()

	client := cfkv.NewKVService(option.WithBaseURL(ts.URL+"/client/v4"), option.WithAPIToken("secret"), option.WithHTTPClient(ts.Client()))
	ns, err := cloudflare.New(client, "00000000000000000000000000000001", nsID, cloudflare.Options{
		// Record the waits instead of sleeping them.
		Sleep: func(ctx context.Context, d time.Duration) error { fmt.Println("waiting", d); return nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := ns.Put(ctx, "greeting", []byte("hello"), kv.PutOptions{}); err != nil {
		log.Fatal(err)
	}

	srv.Inject(kvserver.RouteGetValue,
		kvserver.Fault{Status: 429, RetryAfter: 2 * time.Second},
		kvserver.Fault{Status: 429, RetryAfter: time.Second})
	it, _, err := ns.Get(ctx, "greeting", kv.GetOptions{})
	fmt.Println(string(it.Value), err, srv.Hits(kvserver.RouteGetValue), "requests")

	srv.Inject(kvserver.RouteGetValue, kvserver.Fault{Status: 429, RetryAfter: 5 * time.Minute})
	_, _, err = ns.Get(ctx, "greeting", kv.GetOptions{})
	wait, _ := cloudflare.RetryAfter(err)
	fmt.Println(errors.Is(err, kv.ErrRateLimited), wait)
	// Output:
	// waiting 2s
	// waiting 1s
	// hello <nil> 3 requests
	// true 5m0s
}
