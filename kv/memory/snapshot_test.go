package memory_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
)

func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := kvtest.NewClock()
	src := memory.New(memory.Options{Clock: clock.Now})
	require.NoError(t, src.Put(ctx, "b", []byte{0, 0xff}, kv.PutOptions{Metadata: json.RawMessage(`{"m":1}`)}))
	require.NoError(t, src.Put(ctx, "a", []byte("v"), kv.PutOptions{TTL: time.Minute}))
	require.NoError(t, src.Put(ctx, "gone", []byte("v"), kv.PutOptions{TTL: time.Minute}))
	require.NoError(t, src.Delete(ctx, "gone"))

	snap := src.Snapshot()
	require.Len(t, snap, 2)
	assert.Equal(t, "a", snap[0].Key, "UTF-8 byte order")
	assert.Equal(t, kvtest.Epoch.Add(time.Minute).Unix(), snap[0].Expiration)
	snap[1].Value[0] = 9 // a copy: the namespace is unchanged
	it, _, _ := src.Get(ctx, "b", kv.GetOptions{})
	assert.Equal(t, []byte{0, 0xff}, it.Value)

	dst := memory.New(memory.Options{Clock: clock.Now})
	require.NoError(t, dst.Restore(src.Snapshot()))
	assert.Equal(t, src.Snapshot(), dst.Snapshot())

	// Entries expired by the time of the restore are skipped.
	clock.Advance(time.Minute)
	late := memory.New(memory.Options{Clock: clock.Now})
	require.NoError(t, late.Restore(snap))
	assert.Equal(t, 1, late.Len())

	// One bad entry restores nothing.
	bad := []memory.SnapshotEntry{{Key: "ok", Value: []byte("v")}, {Key: "..", Value: []byte("v")}}
	err := late.Restore(bad)
	require.ErrorIs(t, err, kv.ErrInvalidKey)
	_, found, _ := late.Get(ctx, "ok", kv.GetOptions{})
	assert.False(t, found)
	require.ErrorIs(t, late.Restore([]memory.SnapshotEntry{{Key: "k", Expiration: kv.MaxExpiration + 1}}), kv.ErrInvalidExpiration)
	require.ErrorIs(t, late.Restore([]memory.SnapshotEntry{{Key: "k", Metadata: json.RawMessage(`{`)}}), kv.ErrInvalidMetadata)
}
