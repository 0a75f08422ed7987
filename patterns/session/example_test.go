package session_test

import (
	"context"
	"fmt"
	"time"

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
