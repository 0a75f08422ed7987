package counter_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/counter"
)

// bulkFaults is a memory namespace whose bulk writes fail as told, call by
// call, and that records the keys of every bulk write and read.
type bulkFaults struct {
	*memory.Namespace

	mu     sync.Mutex
	puts   [][]string
	reads  map[string]int
	faults map[int]bulkFault // by bulk write, from 0
}

type bulkFault struct {
	err    error
	landed bool // the write is applied, then err is returned
}

func (b *bulkFaults) PutBulk(ctx context.Context, entries []kv.Pair) error {
	b.mu.Lock()
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	f, faulty := b.faults[len(b.puts)]
	b.puts = append(b.puts, keys)
	b.mu.Unlock()
	if !faulty {
		return b.Namespace.PutBulk(ctx, entries)
	}
	if f.landed {
		if err := b.Namespace.PutBulk(ctx, entries); err != nil {
			return err
		}
	}
	return f.err
}

func (b *bulkFaults) GetBulk(ctx context.Context, keys []string, opts kv.GetOptions) (map[string]kv.Entry[[]byte], error) {
	b.mu.Lock()
	for _, k := range keys {
		b.reads[k]++
	}
	b.mu.Unlock()
	return b.Namespace.GetBulk(ctx, keys, opts)
}

// A flush of 25,000 dirty keys writes them 10,000 at most per bulk write
// (the Workers KV limit), and judges each write by its own error: the
// chunk whose answer was lost after it landed is repeated with the same
// values and never re-read (not counted twice), the chunk KV refused is
// read again and merged with what another writer stored meanwhile, and
// the chunk that succeeded is done. Nothing is lost.
func TestFlushWritesByMaxBulkWriteAndJudgesEachChunk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := kvtest.NewClock()
	ns := &bulkFaults{Namespace: memory.New(memory.Options{Clock: clock.Now}), reads: map[string]int{}, faults: map[int]bulkFault{
		1: {err: errors.Join(kv.ErrUnavailable, errors.New("connection reset")), landed: true},
		2: {err: errors.Join(kv.ErrRateLimited, errors.New("HTTP 429"))},
	}}
	c, err := counter.New(ns, counter.Options{Clock: clock.Now, Tick: make(chan time.Time), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer func() { assert.NoError(t, c.Close(ctx)) }()

	const n = 25_000
	incrementAll := func() {
		for i := range n {
			_, err := c.Increment(ctx, "k"+strconv.Itoa(i), 1)
			require.NoError(t, err)
		}
	}
	incrementAll()
	err = c.Flush(ctx)
	assert.ErrorIs(t, err, kv.ErrUnavailable)
	assert.ErrorIs(t, err, kv.ErrRateLimited)
	require.Len(t, ns.puts, 3)
	for _, p := range ns.puts {
		assert.LessOrEqual(t, len(p), kv.MaxBulkWrite)
	}
	assert.Equal(t, n, len(ns.puts[0])+len(ns.puts[1])+len(ns.puts[2]))
	ok, lost, refused := ns.puts[0], ns.puts[1], ns.puts[2]
	stored := func(key string) string {
		it, _, err := ns.Get(ctx, key, kv.GetOptions{})
		require.NoError(t, err)
		return string(it.Value)
	}
	assert.Equal(t, "1", stored(ok[0]))
	assert.Equal(t, "1", stored(lost[0]), "the write landed, its answer was lost")
	assert.Equal(t, "", stored(refused[0]), "the write was refused")

	// Another process counts 100 on a refused key meanwhile.
	require.NoError(t, ns.Put(ctx, refused[0], []byte("100"), kv.PutOptions{}))
	incrementAll()
	clock.Advance(3 * time.Second) // every stored value is due for a read
	require.NoError(t, c.Flush(ctx))

	for _, k := range ok {
		require.Equal(t, "2", stored(k), k)
		require.Equal(t, 1, ns.reads[k], "read once before writing: %s", k)
	}
	for _, k := range lost {
		require.Equal(t, "2", stored(k), "counted once: %s", k)
		require.Zero(t, ns.reads[k], "a write that may have landed is never read back: %s", k)
	}
	assert.Equal(t, "102", stored(refused[0]), "merged with the other writer")
	for _, k := range refused[1:] {
		require.Equal(t, "2", stored(k), k)
	}
	for _, p := range ns.puts[3:] {
		assert.LessOrEqual(t, len(p), kv.MaxBulkWrite)
	}
	v, err := c.Get(ctx, refused[0][len(counter.DefaultPrefix):])
	require.NoError(t, err)
	assert.Equal(t, int64(102), v)
}
