package memory_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, now func() time.Time) kv.Namespace {
		return memory.New(memory.Options{Clock: now})
	})
}

// Cursors are signed: one this namespace never issued fails instead of
// resuming at whatever key it names, and a genuine one resumes exactly.
func TestListCursors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := memory.New(memory.Options{})
	other := memory.New(memory.Options{})
	for i := range 30 {
		require.NoError(t, ns.Put(ctx, fmt.Sprintf("k%02d", i), []byte("v"), kv.PutOptions{}))
		require.NoError(t, other.Put(ctx, fmt.Sprintf("k%02d", i), []byte("v"), kv.PutOptions{}))
	}
	page, err := ns.List(ctx, kv.ListOptions{Limit: 10})
	require.NoError(t, err)
	require.False(t, page.Complete)
	next, err := ns.List(ctx, kv.ListOptions{Limit: 10, Cursor: page.Cursor})
	require.NoError(t, err)
	assert.Equal(t, "k10", next.Keys[0].Name, "a genuine cursor resumes after the last key")

	theirs, err := other.List(ctx, kv.ListOptions{Limit: 10})
	require.NoError(t, err)
	forged := "m2." + base64.RawURLEncoding.EncodeToString([]byte("k25")) + page.Cursor[strings.LastIndex(page.Cursor, "."):]
	for name, c := range map[string]string{
		"made up":                "not-a-cursor",
		"the old unsigned form":  "m1." + base64.RawURLEncoding.EncodeToString([]byte("k25")),
		"another key, same MAC":  forged,
		"truncated":              page.Cursor[:len(page.Cursor)-2],
		"from another namespace": theirs.Cursor,
		"bad base64 in the key":  "m2.***." + page.Cursor[strings.LastIndex(page.Cursor, ".")+1:],
		"no MAC":                 strings.TrimSuffix(page.Cursor, page.Cursor[strings.LastIndex(page.Cursor, "."):]),
	} {
		_, err := ns.List(ctx, kv.ListOptions{Limit: 10, Cursor: c})
		require.ErrorIs(t, err, kv.ErrInvalidCursor, name)
		var ke *kv.Error
		require.ErrorAs(t, err, &ke, name)
		assert.Equal(t, "list", ke.Op)
	}
}

func TestListPrefixLimit(t *testing.T) {
	t.Parallel()
	ns := memory.New(memory.Options{})
	_, err := ns.List(context.Background(), kv.ListOptions{Prefix: strings.Repeat("p", kv.MaxKeySize)})
	require.NoError(t, err, "a 512-byte prefix is fine")
	_, err = ns.List(context.Background(), kv.ListOptions{Prefix: strings.Repeat("p", kv.MaxKeySize+1)})
	require.ErrorIs(t, err, kv.ErrInvalidKey)
	assert.Contains(t, err.Error(), "prefix is 513 bytes, limit is 512")
}

// A key overwritten by shorter, longer and large values: every read,
// listed key and value handed out earlier stays what it was when it was
// handed out.
func TestOverwriteKeepsWhatWasHandedOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := memory.New(memory.Options{})
	key := "session:" + strings.Repeat("k", 43)
	var listed []string
	var got [][]byte
	values := [][]byte{
		[]byte("a medium value of some forty bytes......"),
		[]byte("short"),
		[]byte("a medium value again, in the room left!!"),
		[]byte(strings.Repeat("L", 600)),
		[]byte("small after large"),
		{},
		[]byte(strings.Repeat("m", 400)),
	}
	for _, v := range values {
		require.NoError(t, ns.Put(ctx, key, v, kv.PutOptions{}))
		it, ok, err := ns.Get(ctx, key, kv.GetOptions{})
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, string(v), string(it.Value))
		got = append(got, it.Value)
		page, err := ns.List(ctx, kv.ListOptions{})
		require.NoError(t, err)
		require.Len(t, page.Keys, 1)
		listed = append(listed, page.Keys[0].Name)
	}
	for i, v := range values {
		assert.Equal(t, string(v), string(got[i]), "value %d changed after it was read", i)
		assert.Equal(t, key, listed[i], "listed key %d changed", i)
	}
}
