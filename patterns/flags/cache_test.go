package flags_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/flags"
)

// TestBulkLoad: the first evaluation loads every definition with one
// listing per 1,000 flags and one bulk read per 100, never a single read.
func TestBulkLoad(t *testing.T) {
	t.Parallel()
	defs := map[string]string{}
	for i := range 2500 {
		defs["f"+strconv.Itoa(i)] = `{"enabled":true,"rolloutPercent":` + strconv.Itoa(i%2*100) + `}`
	}
	env := flagsSetup(t, flags.Options{}, defs)
	ctx := context.Background()
	for i := range 2500 {
		d, err := env.c.Evaluate(ctx, "f"+strconv.Itoa(i), "u")
		require.NoError(t, err)
		require.Equal(t, flags.Decision{Enabled: i%2 == 1, Reason: flags.ReasonRollout}, d, "f%d", i)
	}
	d, err := env.c.Evaluate(ctx, "f2500", "u")
	require.NoError(t, err)
	assert.Equal(t, flags.ReasonNotFound, d.Reason)
	assert.Equal(t, kvtest.Counts{List: 3, BulkGet: 25}, env.ns.Counts())
}

// TestFlagCreatedAfterLoadIsFound: a flag another process creates after the
// load is served from the next reload, within the TTL, and from memory
// after that.
func TestFlagCreatedAfterLoadIsFound(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{"a": `{"enabled":true,"rolloutPercent":100}`})
	ctx := context.Background()
	require.True(t, env.c.IsEnabled(ctx, "a", "u"))
	require.NoError(t, env.ns.Put(ctx, "flag:late", []byte(`{"enabled":true,"rolloutPercent":100}`), kv.PutOptions{}))
	before := env.ns.Counts().Reads()
	assert.False(t, env.c.IsEnabled(ctx, "late", "u"), "not yet: the loaded definitions are served for the TTL")
	env.clock.Advance(30 * time.Second)
	for range 100 {
		assert.True(t, env.c.IsEnabled(ctx, "late", "u"))
		assert.True(t, env.c.IsEnabled(ctx, "a", "u"))
	}
	assert.Equal(t, int64(2), env.ns.Counts().Reads()-before, "one listing and one bulk read, then memory")
}

// TestUnknownNamesAllocateNothing: evaluating a name that is not a flag
// costs no KV call and no allocation, however many such names are seen.
// Not parallel: AllocsPerRun counts every goroutine's allocations.
func TestUnknownNamesAllocateNothing(t *testing.T) {
	env := flagsSetup(t, flags.Options{}, map[string]string{"a": `{"enabled":true,"rolloutPercent":50}`})
	ctx := context.Background()
	require.False(t, env.c.IsEnabled(ctx, "b", "u")) // loads
	names := make([]string, 10_000)
	for i := range names {
		names[i] = "unknown-" + strconv.Itoa(i)
	}
	before := env.ns.Counts().Reads()
	i := 0
	allocs := testing.AllocsPerRun(len(names)-1, func() {
		env.c.IsEnabled(ctx, names[i], "u")
		env.c.IsEnabled(ctx, "a", "u")
		i++
	})
	assert.Zero(t, allocs)
	assert.Equal(t, before, env.ns.Counts().Reads())
}

// TestWritesDoNotCopyAllFlags: a Set through a Client holding 10,000 flags
// allocates far less than a copy of them (about 500 kB), and many Sets and
// Deletes, folded into the definitions now and then, leave every one served.
// Not parallel: other tests would allocate during the measurement.
func TestWritesDoNotCopyAllFlags(t *testing.T) {
	env := flagsSetup(t, flags.Options{}, nil)
	ctx := context.Background()
	pairs := make([]kv.Pair, 0, 10_000)
	for i := range 10_000 {
		pairs = append(pairs, kv.Pair{Key: "flag:f" + strconv.Itoa(i), Value: []byte(`{"enabled":true,"rolloutPercent":100}`)})
	}
	for lo := 0; lo < len(pairs); lo += kv.MaxBulkWrite {
		require.NoError(t, env.ns.PutBulk(ctx, pairs[lo:min(lo+kv.MaxBulkWrite, len(pairs))]))
	}
	require.True(t, env.c.IsEnabled(ctx, "f0", "u"))
	want := map[string]bool{}
	const writes = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range writes {
		name := "f" + strconv.Itoa(i*7%12_000) // some new, some loaded
		if i%3 == 0 {
			require.NoError(t, env.c.Delete(ctx, name))
			want[name] = false
		} else {
			require.NoError(t, env.c.Set(ctx, name, flags.Flag{Enabled: i%2 == 0, RolloutPercent: 100}))
			want[name] = i%2 == 0
		}
	}
	runtime.ReadMemStats(&after)
	perWrite := float64(after.TotalAlloc-before.TotalAlloc) / writes
	t.Logf("bytes allocated per write: %.0f", perWrite)
	assert.Less(t, perWrite, 100_000.0, "a write does not copy every flag")
	reads := env.ns.Counts().Reads()
	for i := range 12_000 {
		name := "f" + strconv.Itoa(i)
		on, written := want[name]
		if !written {
			on = i < 10_000
		}
		require.Equal(t, on, env.c.IsEnabled(ctx, name, "u"), name)
	}
	assert.Equal(t, reads, env.ns.Counts().Reads(), "the writes are served without a read")
	// After the TTL the definitions are reloaded, and agree.
	env.clock.Advance(30 * time.Second)
	all, err := env.c.EvaluateAll(ctx, "u")
	require.NoError(t, err)
	for i := range 12_000 {
		name := "f" + strconv.Itoa(i)
		on, written := want[name]
		if !written {
			on = i < 10_000
		}
		require.Equal(t, on, all[name].Enabled, name)
	}
}

// gatedNS blocks listings while gate is set, until release is closed.
type gatedNS struct {
	*kvtest.CountingBulk
	gate    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedNS) List(ctx context.Context, o kv.ListOptions) (kv.Page, error) {
	if g.gate.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
	return g.CountingBulk.List(ctx, o)
}

// TestWriteDuringReloadWins: a Set and a Delete through the Client while a
// reload is under way are served after the reload, which may have listed
// and read KV before them.
func TestWriteDuringReloadWins(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{
		"a": `{"enabled":true,"rolloutPercent":100}`,
		"b": `{"enabled":true,"rolloutPercent":100}`,
	})
	ctx := context.Background()
	g := &gatedNS{CountingBulk: env.ns, entered: make(chan struct{}), release: make(chan struct{})}
	c, err := flags.New(g, flags.Options{Clock: env.clock.Now})
	require.NoError(t, err)
	require.True(t, c.IsEnabled(ctx, "a", "u"))

	env.clock.Advance(30 * time.Second)
	g.gate.Store(true)
	done := make(chan bool)
	go func() { done <- c.IsEnabled(ctx, "a", "u") }()
	<-g.entered
	// The reload has started; the listing answers once these writes are
	// done, but the reads it would make could have come before them.
	require.NoError(t, env.ns.Put(ctx, "flag:a", []byte(`{"enabled":true,"rolloutPercent":100}`), kv.PutOptions{}))
	require.NoError(t, c.Set(ctx, "c", flags.Flag{Enabled: true, RolloutPercent: 100}))
	require.NoError(t, c.Delete(ctx, "b"))
	require.NoError(t, env.ns.Put(ctx, "flag:b", []byte(`{"enabled":true,"rolloutPercent":100}`), kv.PutOptions{})) // as a stale read would see it
	require.NoError(t, env.ns.Delete(ctx, "flag:c"))
	close(g.release)
	assert.True(t, <-done)
	assert.True(t, c.IsEnabled(ctx, "c", "u"), "Set during the reload")
	assert.False(t, c.IsEnabled(ctx, "b", "u"), "Delete during the reload")
}

// TestSnapshotSwapUnderConcurrentChecks: evaluations running while other
// processes change definitions and the Client reloads them, and while the
// Client itself writes, always see a whole set of definitions: a flag
// never changed is always on, a changed one is one version or the other.
func TestSnapshotSwapUnderConcurrentChecks(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{
		"stable": `{"enabled":true,"rolloutPercent":100}`,
		"flip":   `{"enabled":true,"rolloutPercent":100}`,
	})
	ctx := context.Background()
	require.True(t, env.c.IsEnabled(ctx, "stable", "u"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var seenOn, seenOff atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !env.c.IsEnabled(ctx, "stable", "u") {
					t.Error("a flag never changed was off")
					return
				}
				d, err := env.c.Evaluate(ctx, "flip", "u")
				if err != nil || (d.Reason != flags.ReasonRollout && d.Reason != flags.ReasonDisabled) {
					t.Errorf("flip: %+v %v", d, err)
					return
				}
				if d.Enabled {
					seenOn.Add(1)
				} else {
					seenOff.Add(1)
				}
			}
		})
	}
	for i := range 200 {
		js := `{"enabled":` + strconv.FormatBool(i%2 == 0) + `,"rolloutPercent":100}`
		require.NoError(t, env.ns.Put(ctx, "flag:flip", []byte(js), kv.PutOptions{}))
		env.clock.Advance(30 * time.Second) // the next evaluation reloads
		require.NoError(t, env.c.Set(ctx, "own"+strconv.Itoa(i%7), flags.Flag{Enabled: true, RolloutPercent: 100}))
		require.True(t, env.c.IsEnabled(ctx, "own"+strconv.Itoa(i%7), "u"))
		require.Equal(t, i%2 == 0, env.c.IsEnabled(ctx, "flip", "u"), "round %d", i)
	}
	close(stop)
	wg.Wait()
	t.Logf("flip seen on %d times, off %d times", seenOn.Load(), seenOff.Load())
	assert.Positive(t, env.ns.Counts().List, "reloads happened")
}

// TestLoadWithoutBulkReads: over a namespace without bulk reads, the load
// reads each listed flag on its own, once.
func TestLoadWithoutBulkReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := memory.New(memory.Options{})
	for i := range 30 {
		require.NoError(t, mem.Put(ctx, "flag:f"+strconv.Itoa(i), []byte(`{"enabled":true,"rolloutPercent":100}`), kv.PutOptions{}))
	}
	ns := kvtest.NewCounting(mem)
	c, err := flags.New(ns, flags.Options{})
	require.NoError(t, err)
	for range 3 {
		for i := range 30 {
			require.True(t, c.IsEnabled(ctx, "f"+strconv.Itoa(i), "u"))
		}
	}
	assert.Equal(t, kvtest.Counts{List: 1, Get: 30}, ns.Counts())
}

// TestMalformedDefinitionFailsTheLoad: a definition that is not a Flag's
// JSON fails the load with kv.ErrCodec (the last definitions loaded, if
// any, are served meanwhile).
// TestMalformedDefinitionFailsOnlyItsFlag: a definition that cannot be
// decoded does not take the other flags down with it. It evaluates off with
// a kv.ErrCodec error naming its key, is logged, keeps its last known
// definition on a later bad reload, and an admin List reports it.
func TestMalformedDefinitionFailsOnlyItsFlag(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{
		"good": `{"enabled":true,"rolloutPercent":100}`,
		"bad":  `{"enabled":"yes"}`,
	})
	ctx := context.Background()
	d, err := env.c.Evaluate(ctx, "good", "u")
	require.NoError(t, err)
	assert.True(t, d.Enabled)
	d, err = env.c.Evaluate(ctx, "bad", "u")
	assert.ErrorIs(t, err, kv.ErrCodec)
	assert.Contains(t, err.Error(), "flag:bad")
	assert.Equal(t, flags.ReasonError, d.Reason)
	assert.False(t, env.c.IsEnabled(ctx, "bad", "u"))
	assert.Contains(t, env.log.String(), "flag:bad")
	_, err = env.c.List(ctx)
	assert.ErrorIs(t, err, kv.ErrCodec, "an admin listing reports it")

	// Fixed, it is served after the next load; broken again, the last
	// known definition stays.
	require.NoError(t, env.ns.Put(ctx, "flag:bad", []byte(`{"enabled":true,"rolloutPercent":100}`), kv.PutOptions{}))
	env.clock.Advance(31 * time.Second)
	d, err = env.c.Evaluate(ctx, "bad", "u")
	require.NoError(t, err)
	assert.True(t, d.Enabled)
	require.NoError(t, env.ns.Put(ctx, "flag:bad", []byte(`{`), kv.PutOptions{}))
	env.clock.Advance(31 * time.Second)
	d, err = env.c.Evaluate(ctx, "bad", "u")
	require.NoError(t, err)
	assert.True(t, d.Enabled, "the last known definition")
}
