package session_test

import (
	"context"
	"fmt"
	"time"

	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/session"
)

// Example uses a Manager without HTTP middleware: Open a token, change the
// session, Commit, and send the returned cookie yourself.
func Example() {
	type Cart struct {
		Items []string `json:"items"`
	}
	ctx := context.Background()
	carts := session.Must(session.New[Cart](memory.New(memory.Options{}), session.Options{
		Prefix:      "cart:",
		IdleTimeout: 30 * time.Minute,
	}))

	s := carts.Open("") // no cookie yet
	_ = s.Update(ctx, func(c *Cart) error { c.Items = append(c.Items, "book"); return nil })
	cookie, err := s.Commit(ctx)
	if err != nil {
		panic(err)
	}

	again := carts.Open(cookie.Value)
	cart, ok, _ := again.Get(ctx)
	fmt.Println(ok, cart.Items, len(cookie.Value))
	// Output: true [book] 43
}

// Example_cacheTTL turns on the read cache: page views within CacheTTL
// share one KV read, and this process sees its own sign-out at once.
func Example_cacheTTL() {
	type User struct{ ID, Role string }
	ctx := context.Background()
	ns := kvtest.NewCounting(memory.New(memory.Options{}))
	sessions := session.Must(session.New[User](ns, session.Options{CacheTTL: 5 * time.Second}))

	s := sessions.Open("")
	_ = s.Set(ctx, User{ID: "u1", Role: "admin"})
	cookie, _ := s.Commit(ctx) // the write fills the cache
	for range 100 {
		_, _, _ = sessions.Open(cookie.Value).Get(ctx) // 100 page views
	}
	fmt.Println("reads:", ns.Counts().Get)

	out := sessions.Open(cookie.Value)
	_ = out.Destroy(ctx)
	_, _ = out.Commit(ctx)
	_, ok, _ := sessions.Open(cookie.Value).Get(ctx)
	fmt.Println("signed in after sign-out:", ok, "reads:", ns.Counts().Get)
	// Output:
	// reads: 0
	// signed in after sign-out: false reads: 0
}
