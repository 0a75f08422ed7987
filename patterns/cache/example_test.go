package cache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/cache"
)

type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func ExampleCache_Get() {
	ns := memory.New(memory.Options{}) // or a Cloudflare namespace
	users, err := cache.New[User](ns, cache.Options{
		Prefix:               "user:",
		TTL:                  time.Minute,
		StaleWhileRevalidate: 30 * time.Second, // serve stale at once, refresh in the background
		StaleIfError:         10 * time.Minute, // keep serving stale while the database is down
		NegativeTTL:          10 * time.Second, // remember unknown ids briefly
	})
	if err != nil {
		panic(err)
	}
	defer users.Close(context.Background())

	loadUser := cache.LoaderFunc[User](func(ctx context.Context, id string) (User, error) {
		fmt.Println("loading", id) // a database query, an API call...
		if id != "42" {
			return User{}, fmt.Errorf("user %s: %w", id, kv.ErrNotFound)
		}
		return User{ID: id, Name: "Ada"}, nil
	})

	ctx := context.Background()
	u, _ := users.Get(ctx, "42", loadUser)
	u, _ = users.Get(ctx, "42", loadUser) // from memory: no load, no KV call
	fmt.Println(u.Name)
	_, err = users.Get(ctx, "7", loadUser)
	fmt.Println(err)
	fmt.Printf("%+v\n", users.Stats())
	// Output:
	// loading 42
	// Ada
	// loading 7
	// user 7: kv: not found
	// {Hits:2 LocalHits:1 Misses:2 Loads:2 LoadErrors:1 Stale:0 Negative:0 KVErrors:0 Refreshes:0 Invalidates:0}
}

func ExampleResponseCache_Serve() {
	rc, err := cache.NewResponseCache(memory.New(memory.Options{}), cache.ResponseOptions{TTL: time.Minute})
	if err != nil {
		panic(err)
	}
	defer rc.Close(context.Background())

	handler := func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Tag", "products") // stripped before sending; purge with rc.PurgeTag
		_, err := io.WriteString(w, "product list")
		return err
	}
	for range 2 {
		rec := httptest.NewRecorder()
		_ = rc.Serve(rec, httptest.NewRequest("GET", "/products?page=1", nil), handler)
		fmt.Println(rec.Header().Get("Cache-Status"), "|", rec.Body.String())
	}
	_ = rc.PurgeTag(context.Background(), "products")
	rec := httptest.NewRecorder()
	_ = rc.Serve(rec, httptest.NewRequest("GET", "/products?page=1", nil), handler)
	fmt.Println(rec.Header().Get("Cache-Status"))
	// Output:
	// kvkit; fwd=miss | product list
	// kvkit; hit; ttl=60 | product list
	// kvkit; fwd=miss
}
