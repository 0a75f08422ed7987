package cache

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRespTierGetSetDelete(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	tr := newRespTier(1<<20, clock)
	short, long := "http://a/x", "https://example.com/"+strings.Repeat("p", 40)
	a, b := &respEntry{status: 200}, &respEntry{status: 201}
	tr.Set(short, a, time.Minute, 100)
	tr.Set(long, b, time.Minute, 100)
	got, ok := tr.Get(short)
	require.True(t, ok)
	assert.Same(t, a, got)
	got, ok = tr.Get(long)
	require.True(t, ok)
	assert.Same(t, b, got)
	assert.Equal(t, int64(200), tr.weight.Load())
	for _, miss := range []string{"http://a/", "http://a/xy", "http://a/y", long[:len(long)-1], long + "p", ""} {
		_, ok := tr.Get(miss)
		assert.False(t, ok, miss)
	}

	// Re-set under the same key: one entry, the new weight and deadline.
	tr.Set(short, a, 2*time.Minute, 150)
	assert.Equal(t, int64(250), tr.weight.Load())
	assert.Equal(t, 2, tr.Len())
	// An entry is held under one key only.
	tr.Set("http://a/other", a, time.Minute, 100)
	_, ok = tr.Get("http://a/other")
	assert.False(t, ok)

	now = now.Add(time.Minute)
	_, ok = tr.Get(long)
	assert.False(t, ok, "expired")
	_, ok = tr.Get(short)
	assert.True(t, ok, "its own deadline")
	assert.Equal(t, int64(150), tr.weight.Load(), "the expired entry is gone")

	tr.Delete(short)
	_, ok = tr.Get(short)
	assert.False(t, ok)
	tr.Set(short, a, time.Minute, 10)
	tr.Set(short, a, 0, 10)
	_, ok = tr.Get(short)
	assert.False(t, ok, "a ttl <= 0 removes")
	assert.Equal(t, int64(0), tr.weight.Load())

	tr.Set(short, a, time.Minute, 10)
	tr.Set(long, b, time.Minute, 10)
	tr.Clear()
	assert.Equal(t, 0, tr.Len())
	assert.Equal(t, int64(0), tr.weight.Load())
	tr.Set(short, &respEntry{}, time.Minute, 1<<20+1)
	assert.Equal(t, 0, tr.Len(), "heavier than the whole tier")
}

func TestRespTierBound(t *testing.T) {
	t.Parallel()
	const limit = 100_000
	tr := newRespTier(limit, nil)
	hot := &respEntry{}
	tr.Set("http://h/hot", hot, time.Hour, 100)
	for i := range 10_000 {
		tr.Set("http://h/"+strconv.Itoa(i), &respEntry{}, time.Hour, 100)
		assert.LessOrEqual(t, tr.weight.Load(), int64(limit))
		if i%10 == 0 {
			_, _ = tr.Get("http://h/hot")
		}
	}
	assert.Equal(t, int64(tr.Len()*100), tr.weight.Load())
	assert.Greater(t, tr.Len(), limit/100/2, "evicts only what it must")
	// One entry as heavy as the bound evicts everything else, in any shard.
	tr.Set("http://h/big", &respEntry{}, time.Hour, limit)
	assert.Equal(t, 1, tr.Len())
	_, ok := tr.Get("http://h/big")
	assert.True(t, ok)
}

func TestRespTierPrefersExpired(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tr := newRespTier(1000, clock)
	// Every entry in one shard: keys chosen by their shard.
	var keys []string
	for i := 0; len(keys) < 11; i++ {
		k := "http://e/" + strconv.Itoa(i)
		if tr.shard(hashKey(tr, k)) == &tr.shards[0] {
			keys = append(keys, k)
		}
	}
	for i, k := range keys[:10] {
		ttl := time.Hour
		if i == 3 {
			ttl = time.Second
		}
		tr.Set(k, &respEntry{}, ttl, 100)
		_, _ = tr.Get(k) // referenced
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	tr.Set(keys[10], &respEntry{}, time.Hour, 100)
	assert.Equal(t, 10, tr.Len())
	for i, k := range keys {
		_, ok := tr.Get(k)
		assert.Equal(t, i != 3, ok, k)
	}
}

func hashKey(tr *respTier, k string) uint64 {
	e := &respEntry{}
	tr.Set(k, e, time.Hour, 1)
	for i := range tr.shards {
		s := &tr.shards[i]
		for h, sl := range s.m {
			if sl.e == e {
				tr.Delete(k)
				return h
			}
		}
	}
	panic("not stored")
}

func TestRespTierConcurrent(t *testing.T) {
	t.Parallel()
	tr := newRespTier(50_000, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				k := "http://c/" + strconv.Itoa((i*7+g)%700)
				switch i % 5 {
				case 0:
					tr.Set(k, &respEntry{status: 200}, time.Hour, 100)
				case 1:
					tr.Delete(k)
				default:
					if e, ok := tr.Get(k); ok {
						assert.True(t, e.heldAs(k))
					}
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, tr.weight.Load(), int64(50_000))
	assert.Equal(t, int64(tr.Len()*100), tr.weight.Load())
}

func TestMissTable(t *testing.T) {
	t.Parallel()
	var mt missTable
	mt.init()
	now := int64(1_000_000 * time.Second)
	for i := range 5 {
		assert.Equal(t, i < 3, mt.admit("http://m/p", now, 3), i)
	}
	assert.True(t, mt.admit("http://m/q", now, 3), "its own count")
	assert.True(t, mt.admit("http://m/p", now+int64(time.Minute), 3), "a new minute")
	// A flood of other paths does not reset a path that misses often.
	for i := range 10 {
		assert.False(t, mt.admit("http://m/p", now+int64(time.Minute), 1) && i > 0)
	}
	for i := range 20_000 {
		mt.admit("http://m/flood"+strconv.Itoa(i), now+int64(time.Minute), 3)
	}
	assert.False(t, mt.admit("http://m/p", now+int64(time.Minute), 3), "still over its bound")
}

func TestPackedEntry(t *testing.T) {
	t.Parallel()
	e := &respEntry{status: 200, madeETag: true, header: []storedHeader{{"Content-Type", []string{"text/plain"}}, {"Etag", []string{`"x"`}}}}
	p := e.packed()
	assert.NotSame(t, e, p)
	assert.Equal(t, e.header, p.header)
	assert.Equal(t, uint8(inlHeader|inlETag), p.inl)
	assert.Same(t, p, p.packed(), "once")
	assert.Equal(t, e.memSize(), p.memSize(), "one allocation of the bytes of three")
	big := &respEntry{header: make([]storedHeader, 3)}
	assert.Same(t, big, big.packed(), "more header fields than fit")
}

// The tier finds every key it holds and none it does not, through growth
// and deletions.
func TestRespTierMatchesAMap(t *testing.T) {
	t.Parallel()
	tr := newRespTier(1<<40, nil)
	ref := map[string]*respEntry{}
	rng := uint64(1)
	for i := range 200_000 {
		rng = rng*6364136223846793005 + 1442695040888963407
		k := "http://t/" + strconv.Itoa(int(rng>>33)%3000)
		if i%3 == 0 {
			tr.Delete(k)
			delete(ref, k)
			continue
		}
		if _, ok := ref[k]; !ok {
			e := &respEntry{}
			tr.Set(k, e, time.Hour, 1)
			ref[k] = e
		}
	}
	assert.Equal(t, len(ref), tr.Len())
	for i := range 3000 {
		k := "http://t/" + strconv.Itoa(i)
		e, ok := tr.Get(k)
		want, held := ref[k]
		require.Equal(t, held, ok, k)
		if held {
			require.Same(t, want, e, k)
		}
	}
}
