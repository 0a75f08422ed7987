package memory

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
)

// checkIndexes fails unless the hash map, the key tree and the expiry tree
// hold exactly the same entries, the map and the expiry tree under the key
// that starts the entry's own allocation (so that they keep no replaced
// entry alive), the key tree too when the entry says so.
func checkIndexes(t *testing.T, n *Namespace) {
	t.Helper()
	n.mu.RLock()
	defer n.mu.RUnlock()
	require.Equal(t, len(n.byName), n.byKey.Len(), "map and key tree differ in size")
	dated := 0
	for key, it := range n.byName {
		ownKey := func(what, k string) {
			t.Helper()
			require.Equal(t, key, k)
			require.Same(t, unsafe.StringData(key), unsafe.StringData(k), "key %q: the %s holds another entry's key", key, what)
			if len(it.data) > 0 {
				require.Same(t, (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(key)), len(key))), unsafe.StringData(it.data),
					"key %q: the value does not follow the key", key)
			}
		}
		got, ok := n.byKey.Get(key)
		require.True(t, ok, "key %q is in the map but not in the key tree", key)
		if it.keyTreeHere {
			ownKey("key tree", got)
		} else {
			require.Equal(t, key, got)
			require.NotSame(t, unsafe.StringData(key), unsafe.StringData(got), "key %q: keyTreeHere is wrong", key)
		}
		if it.expires != 0 {
			dated++
			x, ok := n.byExpiry.Get(expiring{it.expires, key})
			require.True(t, ok, "key %q expires but is not in the expiry tree", key)
			ownKey("expiry tree", x.key)
		}
	}
	require.Equal(t, dated, n.byExpiry.Len(), "the expiry tree holds entries the map does not")
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
	// Values and metadata of several lengths, none included: each entry
	// is one allocation cut in three, whose cuts the reads must find.
	value := func() []byte {
		if rng.IntN(4) == 0 {
			return []byte(strings.Repeat("L", smallEntry+rng.IntN(3)-1)) // either side of smallEntry
		}
		return []byte("vvvvvv"[:rng.IntN(4)])
	}
	opts := func() kv.PutOptions {
		var o kv.PutOptions
		switch rng.IntN(3) {
		case 1:
			o.TTL = time.Duration(60+rng.IntN(120)) * time.Second
		case 2:
			o.Expiration = now.Add(time.Duration(60+rng.IntN(120)) * time.Second)
		}
		switch rng.IntN(3) {
		case 1:
			o.Metadata = json.RawMessage(`{"m":` + strconv.Itoa(rng.IntN(1000)) + `}`)
		case 2:
			o.Metadata = json.RawMessage(`null`)
		}
		return o
	}
	// want is what each key should read as: value, then metadata.
	want := map[string][2]string{}
	put := func(p kv.Pair) {
		m := string(p.Metadata)
		if m == "null" {
			m = ""
		}
		want[p.Key] = [2]string{string(p.Value), m}
	}
	for step := range 2000 {
		switch rng.IntN(6) {
		case 0, 1:
			p := kv.Pair{Key: key(), Value: value(), PutOptions: opts()}
			require.NoError(t, n.Put(ctx, p.Key, p.Value, p.PutOptions))
			put(p)
		case 2:
			require.NoError(t, n.Delete(ctx, key()))
		case 3:
			pairs := make([]kv.Pair, 1+rng.IntN(5))
			for i := range pairs {
				pairs[i] = kv.Pair{Key: key(), Value: value(), PutOptions: opts()}
			}
			require.NoError(t, n.PutBulk(ctx, pairs))
			for _, p := range pairs {
				put(p)
			}
		case 4:
			require.NoError(t, n.DeleteBulk(ctx, []string{key(), key()}))
		case 5:
			now = now.Add(time.Duration(rng.IntN(40)) * time.Second) // expiries, swept by the next write
		}
		checkIndexes(t, n)
		k := key()
		got, found, err := n.Get(ctx, k, kv.GetOptions{WithMetadata: true})
		require.NoError(t, err)
		if found {
			require.Equal(t, want[k], [2]string{string(got.Value), string(got.Metadata)}, "step %d: Get(%q)", step, k)
		}
		n.mu.RLock()
		_, inTree := n.byKey.Get(k)
		e := n.byName[k]
		n.mu.RUnlock()
		require.Equal(t, inTree && !e.expired(now.Unix()), found, "step %d: Get(%q) disagrees with the tree", step, k)
	}
}

// An overwrite moves the key tree to the new entry's key only when the
// entry the tree held is large: what it keeps of replaced entries stays
// under smallEntry bytes of value.
func TestKeyTreeKeepsLittle(t *testing.T) {
	t.Parallel()
	n := New(Options{})
	ctx := context.Background()
	treeKey := func() *byte {
		n.mu.RLock()
		defer n.mu.RUnlock()
		k, ok := n.byKey.Get("k")
		require.True(t, ok)
		return unsafe.StringData(k)
	}
	mapKey := func() *byte {
		n.mu.RLock()
		defer n.mu.RUnlock()
		for k := range n.byName {
			return unsafe.StringData(k)
		}
		return nil
	}
	large := []byte(strings.Repeat("L", smallEntry+1))
	require.NoError(t, n.Put(ctx, "k", large, kv.PutOptions{}))
	require.Same(t, mapKey(), treeKey(), "a new key")
	require.NoError(t, n.Put(ctx, "k", []byte("small"), kv.PutOptions{}))
	require.Same(t, mapKey(), treeKey(), "the tree let go of the large entry")
	small := treeKey()
	require.NoError(t, n.Put(ctx, "k", large, kv.PutOptions{}))
	require.NotSame(t, mapKey(), treeKey())
	require.Same(t, small, treeKey(), "the tree keeps the small entry's key")
	require.NoError(t, n.Put(ctx, "k", []byte("again"), kv.PutOptions{}))
	require.Same(t, small, treeKey(), "and only it: the large one is not held")
	checkIndexes(t, n)
}
