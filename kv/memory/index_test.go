package memory

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
)

// checkIndexes fails unless the hash map, the key tree and the expiry tree
// hold exactly the same entries.
func checkIndexes(t *testing.T, n *Namespace) {
	t.Helper()
	n.mu.RLock()
	defer n.mu.RUnlock()
	require.Equal(t, len(n.byName), n.byKey.Len(), "map and key tree differ in size")
	expiring := 0
	n.byKey.Ascend(func(e *entry) bool {
		require.Same(t, e, n.byName[e.key], "key %q: the map holds another entry than the tree", e.key)
		if e.expires != 0 {
			expiring++
			got, ok := n.byExpiry.Get(e)
			require.True(t, ok, "key %q expires but is not in the expiry tree", e.key)
			require.Same(t, e, got)
		}
		return true
	})
	require.Equal(t, expiring, n.byExpiry.Len(), "the expiry tree holds entries the key tree does not")
}

// TestIndexesAgree drives random writes, deletes and expiries through every
// write path and checks after each step that the point-lookup map and the
// ordered trees describe the same entries.
func TestIndexesAgree(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	n := New(Options{Clock: func() time.Time { return now }})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() string { return "k" + strconv.Itoa(rng.IntN(50)) }
	opts := func() kv.PutOptions {
		switch rng.IntN(3) {
		case 0:
			return kv.PutOptions{}
		case 1:
			return kv.PutOptions{TTL: time.Duration(60+rng.IntN(120)) * time.Second}
		}
		return kv.PutOptions{Expiration: now.Add(time.Duration(60+rng.IntN(120)) * time.Second)}
	}
	for step := range 2000 {
		switch rng.IntN(6) {
		case 0, 1:
			require.NoError(t, n.Put(ctx, key(), []byte("v"), opts()))
		case 2:
			require.NoError(t, n.Delete(ctx, key()))
		case 3:
			pairs := make([]kv.Pair, 1+rng.IntN(5))
			for i := range pairs {
				pairs[i] = kv.Pair{Key: key(), Value: []byte("b"), PutOptions: opts()}
			}
			require.NoError(t, n.PutBulk(ctx, pairs))
		case 4:
			require.NoError(t, n.DeleteBulk(ctx, []string{key(), key()}))
		case 5:
			now = now.Add(time.Duration(rng.IntN(40)) * time.Second) // expiries, swept by the next write
		}
		checkIndexes(t, n)
		k := key()
		_, found, err := n.Get(ctx, k, kv.GetOptions{})
		require.NoError(t, err)
		n.mu.RLock()
		e, inTree := n.byKey.Get(&entry{key: k})
		n.mu.RUnlock()
		require.Equal(t, inTree && !e.expired(now.Unix()), found, "step %d: Get(%q) disagrees with the tree", step, k)
	}
}
