package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/worker"
)

type User struct {
	Name string `json:"name"`
}

// FromEnv reads KVKIT_WORKER_URL and KVKIT_WORKER_SECRET: the URL
// wrangler deploy printed and the secret given to
// wrangler secret put KVKIT_SECRET.
func ExampleFromEnv() {
	ns, err := worker.FromEnv(worker.Options{})
	if err != nil {
		log.Fatal(err) // e.g. "kv: config: invalid options: KVKIT_WORKER_URL: is not set"
	}
	// Reads served by the edge cache for up to a minute, and by this
	// process's memory for five seconds.
	users, err := kv.New[User](ns, kv.Options{Prefix: "user:", EdgeCacheTTL: time.Minute, CacheTTL: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := users.Put(ctx, "42", User{Name: "Ana"}); err != nil {
		log.Fatal(err)
	}
	u, _, err := users.Get(ctx, "42", kv.NoEdgeCache()) // as fresh as KV allows
	if err != nil {
		log.Fatal(err)
	}
	r := ns.Requests()
	fmt.Println(u.Name, r.Total(), "requests to the Worker,", r.KVOperations, "KV operations, no API requests")
}

// Every KV rule is checked before any request; the configuration too.
func ExampleNew() {
	_, err := worker.New("http://kv.example.com", "0123456789abcdef-secret", worker.Options{})
	fmt.Println(errors.Is(err, kv.ErrInvalidOptions))

	ns, err := worker.New("https://kvkit-kv.example.workers.dev", "0123456789abcdef-secret", worker.Options{})
	if err != nil {
		log.Fatal(err)
	}
	err = ns.Put(context.Background(), "k", []byte("v"), kv.PutOptions{TTL: 30 * time.Second})
	fmt.Println(errors.Is(err, kv.ErrInvalidTTL), ns.Requests().Total())
	// Output:
	// true
	// true 0
}
