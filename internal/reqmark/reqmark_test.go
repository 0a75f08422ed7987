package reqmark_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kvkit/kvkit/internal/reqmark"
)

func TestMark(t *testing.T) {
	t.Parallel()
	var none *reqmark.Mark
	none.SetPersonal() // a nil mark ignores every call
	none.PerClient("X-A")
	assert.False(t, none.Personal())
	assert.False(t, none.IsPerClient("X-A"))
	assert.Nil(t, reqmark.From(context.Background()))

	ctx, m := reqmark.Ensure(context.Background())
	assert.Same(t, m, reqmark.From(ctx))
	ctx2, m2 := reqmark.Ensure(context.WithValue(ctx, struct{}{}, 1))
	assert.Same(t, m, m2, "a layer further in shares the mark")
	assert.Same(t, m, reqmark.From(ctx2))

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			m.SetPersonal()
			m.PerClient("X-Ratelimit-Remaining", "Retry-After")
		})
	}
	wg.Wait()
	assert.True(t, m.Personal())
	assert.True(t, m.IsPerClient("Retry-After"))
	assert.False(t, m.IsPerClient("Content-Type"))
}

// The first PerClient keeps the caller's slice; a later one adds to a copy,
// never into the caller's array.
func TestPerClientKeepsNames(t *testing.T) {
	t.Parallel()
	names := make([]string, 2, 4)
	copy(names, []string{"Retry-After", "X-Ratelimit-Limit"})
	var m reqmark.Mark
	m.PerClient(names...)
	m.PerClient("Ratelimit", "Retry-After")
	assert.True(t, m.IsPerClient("Ratelimit"))
	assert.True(t, m.IsPerClient("X-Ratelimit-Limit"))
	assert.Equal(t, []string{"Retry-After", "X-Ratelimit-Limit", "", ""}, names[:4], "the caller's array is untouched")
}

// Only the first BindFlags binds; a nil mark binds nothing. Concurrent
// binds and reads are safe, and exactly one bind wins.
func TestBindFlags(t *testing.T) {
	t.Parallel()
	var none *reqmark.Mark
	assert.False(t, none.BindFlags(new(int)))
	assert.Nil(t, none.Flags())

	var m reqmark.Mark
	assert.Nil(t, m.Flags())
	vals := make([]*int, 8)
	wins := make([]bool, len(vals))
	var wg sync.WaitGroup
	for i := range vals {
		vals[i] = new(int)
		wg.Go(func() {
			wins[i] = m.BindFlags(vals[i])
			assert.NotNil(t, m.Flags())
		})
	}
	wg.Wait()
	n := 0
	for i, w := range wins {
		if w {
			n++
			assert.Same(t, vals[i], m.Flags())
		}
	}
	assert.Equal(t, 1, n)
}
