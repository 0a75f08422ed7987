// Command quickstart is kvkit's first demo: a typed store over the embedded
// backend, showing typed get/put, TTLs, metadata, bulk operations, listing
// and errors. No account needed:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
)

type User struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	ns := memory.New(memory.Options{}) // the embedded backend: real KV limits, in process
	users, err := kv.New[User](ns, kv.Options{Prefix: "user:", DefaultTTL: 24 * time.Hour, CacheTTL: 30 * time.Second})
	if err != nil {
		return err
	}
	out := os.Stdout

	fmt.Fprintln(out, "== typed put and get")
	if err := users.Put(ctx, "ada", User{"Ada Lovelace", "ada@example.com", "admin"}, kv.WithMetadata(map[string]string{"source": "signup"})); err != nil {
		return err
	}
	var meta map[string]string
	u, found, err := users.GetWithMetadata(ctx, "ada", &meta)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "found=%v user=%+v metadata=%v\n", found, u, meta)

	fmt.Fprintln(out, "== bulk write, bulk read")
	var batch []kv.PutEntry[User]
	for i := range 250 {
		batch = append(batch, kv.PutEntry[User]{Key: fmt.Sprintf("active:%03d", i), Value: User{Name: fmt.Sprint("user ", i), Role: "member"}})
	}
	if err := users.PutMany(ctx, batch); err != nil {
		return err
	}
	got, err := users.GetMany(ctx, []string{"active:000", "active:001", "missing"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "GetMany found %d of 3 keys\n", len(got))

	fmt.Fprintln(out, "== listing (auto-paginating, prefix stripped)")
	n := 0
	for key, err := range users.Keys(ctx, kv.ListOptions{Prefix: "active:", Limit: 100}) {
		if err != nil {
			return err
		}
		if n < 3 {
			fmt.Fprintf(out, "  %s (expires %s)\n", key.Name, key.Expiration.Format(time.RFC3339))
		}
		n++
	}
	fmt.Fprintf(out, "  ... %d keys under user:active:\n", n)

	fmt.Fprintln(out, "== errors carry context and sentinels")
	err = users.Put(ctx, strings.Repeat("x", 600), User{})
	fmt.Fprintf(out, "  %v (ErrInvalidKey: %v)\n", err, errors.Is(err, kv.ErrInvalidKey))
	err = users.Put(ctx, "ada", User{}, kv.WithTTL(10*time.Second))
	fmt.Fprintf(out, "  %v (ErrInvalidTTL: %v)\n", err, errors.Is(err, kv.ErrInvalidTTL))
	return nil
}
