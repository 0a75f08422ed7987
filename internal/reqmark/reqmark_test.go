package reqmark_test

import (
	"context"
	"sync"
	"testing"
	"unsafe"

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

// PerClientList keeps the first list itself (no allocation) and merges later
// ones into a copy; concurrent marks and reads are safe and lose no name.
func TestPerClientList(t *testing.T) {
	t.Parallel()
	var none *reqmark.Mark
	none.PerClientList(&[]string{"X-A"})
	var m reqmark.Mark
	m.PerClientList(nil)
	m.PerClientList(&[]string{})
	assert.False(t, m.IsPerClient("X-A"))

	first := []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining"}

	lists := [][]string{first, {"Retry-After", "X-Ratelimit-Limit"}, {"Ratelimit"}, {"Ratelimit-Policy", "Retry-After"}}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			m.PerClientList(&lists[i%len(lists)])
			_ = m.IsPerClient("Ratelimit")
		})
	}
	wg.Wait()
	for _, l := range lists {
		for _, n := range l {
			assert.True(t, m.IsPerClient(n), n)
		}
	}
	assert.False(t, m.IsPerClient("Content-Type"))
	assert.Equal(t, []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining"}, first, "the first list is never changed")
}

// Marking a fresh request with a rate limit's list allocates nothing.
func TestPerClientListAllocates0(t *testing.T) {
	names := []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining"}
	marks := make([]reqmark.Mark, 20)
	i := 0
	assert.Zero(t, testing.AllocsPerRun(10, func() {
		marks[i].PerClientList(&names)
		if !marks[i].IsPerClient("X-Ratelimit-Limit") {
			t.Error("not marked")
		}
		i++
	}))
}

// A session embeds a Mark in its per-request allocation, so the Mark must
// stay small: 40 bytes kept that allocation in its size class.
func TestMarkIsSmall(t *testing.T) {
	t.Parallel()
	assert.LessOrEqual(t, unsafe.Sizeof(reqmark.Mark{}), uintptr(40))
}
