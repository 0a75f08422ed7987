package counter

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/memory"
)

// An Increment that finds an evicted entry still in the read map (the
// flusher marks it dead before it prunes the map) counts in a new entry,
// which the next flush writes: nothing is added to the dead one.
func TestIncrementOfEvictedEntryStillInTheReadMap(t *testing.T) {
	ctx := context.Background()
	ns := memory.New(memory.Options{})
	c, err := New(ns, Options{Tick: make(chan time.Time), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer func() { _ = c.Close(ctx) }()

	_, err = c.Increment(ctx, "a", 1)
	require.NoError(t, err)
	require.NoError(t, c.Flush(ctx))
	old := (*c.idx.read.Load())["a"]
	require.NotNil(t, old)
	old.mu.Lock()
	old.dead.Store(true) // as flush evicts
	old.mu.Unlock()
	require.Same(t, old, (*c.idx.read.Load())["a"], "not pruned yet")

	v, err := c.Increment(ctx, "a", 2)
	require.NoError(t, err)
	assert.EqualValues(t, 3, v, "the new entry read the stored 1")
	assert.Zero(t, old.pending, "nothing added to the dead entry")
	require.NoError(t, c.Close(ctx))
	it, _, err := ns.Get(ctx, DefaultPrefix+"a", kv.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "3", string(it.Value))
}
