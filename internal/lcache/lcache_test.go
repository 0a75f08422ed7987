package lcache_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/internal/lcache"
	"github.com/kvkit/kvkit/kv/kvtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPerEntryExpiry(t *testing.T) {
	clock := kvtest.NewClock()
	c, err := lcache.New(lcache.Options[string, int]{Clock: clock.Now})
	require.NoError(t, err)
	c.Set("short", 1, time.Second)
	c.Set("long", 2, time.Minute)
	c.Set("none", 3, 0) // ttl <= 0 stores nothing

	v, ok := c.Get("short")
	assert.True(t, ok)
	assert.Equal(t, 1, v)
	_, ok = c.Get("none")
	assert.False(t, ok)

	clock.Advance(999 * time.Millisecond)
	_, ok = c.Get("short")
	assert.True(t, ok, "alive just before its deadline")
	clock.Advance(time.Millisecond)
	_, ok = c.Get("short")
	assert.False(t, ok, "gone at its deadline")
	_, ok = c.Get("long")
	assert.True(t, ok)

	// Replacing an entry renews its deadline.
	c.Set("long", 4, time.Second)
	clock.Advance(2 * time.Second)
	_, ok = c.Get("long")
	assert.False(t, ok)
}

func TestDeleteAndClear(t *testing.T) {
	c, err := lcache.New(lcache.Options[string, int]{})
	require.NoError(t, err)
	c.Set("a", 1, time.Hour)
	c.Set("b", 2, time.Hour)
	c.Delete("a")
	_, ok := c.Get("a")
	assert.False(t, ok)
	assert.Equal(t, 1, c.Len())
	c.Clear()
	_, ok = c.Get("b")
	assert.False(t, ok)
}

func TestBoundedByEntries(t *testing.T) {
	c, err := lcache.New(lcache.Options[int, int]{MaxEntries: 100})
	require.NoError(t, err)
	for i := range 1000 {
		c.Set(i, i, time.Hour)
	}
	assert.LessOrEqual(t, c.Len(), 100)
}

func TestBoundedByWeight(t *testing.T) {
	c, err := lcache.New(lcache.Options[string, []byte]{MaxWeight: 10_000, Weigher: func(_ string, v []byte) uint32 { return uint32(len(v)) }})
	require.NoError(t, err)
	for i := range 100 {
		c.Set(fmt.Sprint(i), make([]byte, 1000), time.Hour)
	}
	total := 0
	for i := range 100 {
		if v, ok := c.Get(fmt.Sprint(i)); ok {
			total += len(v)
		}
	}
	assert.LessOrEqual(t, total, 10_000)
	assert.Positive(t, total)
}

func TestConflictingOptions(t *testing.T) {
	_, err := lcache.New(lcache.Options[string, int]{MaxWeight: 10}) // weight without a weigher
	assert.Error(t, err)
}

func TestCoarseClockByDefault(t *testing.T) {
	c, err := lcache.New(lcache.Options[string, int]{})
	require.NoError(t, err)
	c.Set("k", 1, time.Hour)
	v, ok := c.Get("k")
	assert.True(t, ok)
	assert.Equal(t, 1, v)
}

func BenchmarkGet(b *testing.B) {
	c, err := lcache.New(lcache.Options[string, *int]{})
	require.NoError(b, err)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("key-", i)
		c.Set(keys[i], &i, time.Hour)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok := c.Get(keys[i&1023]); !ok {
			b.Fatal("miss")
		}
	}
}
