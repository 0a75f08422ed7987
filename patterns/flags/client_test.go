package flags_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/internal/reqmark"
	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/kvtest"
	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/patterns/flags"
)

// flagsLog is a goroutine-safe log sink.
type flagsLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *flagsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *flagsLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type flagsEnv struct {
	clock *kvtest.Clock
	ns    *kvtest.CountingBulk
	c     *flags.Client
	log   *flagsLog
}

// flagsSetup returns a Client over a counting memory namespace holding defs
// (written raw, as a TypeScript Worker would), with a manual clock.
func flagsSetup(t *testing.T, opts flags.Options, defs map[string]string) flagsEnv {
	t.Helper()
	clock := kvtest.NewClock()
	mem := memory.New(memory.Options{Clock: clock.Now})
	for name, js := range defs {
		require.NoError(t, mem.Put(context.Background(), "flag:"+name, []byte(js), kv.PutOptions{}))
	}
	ns := kvtest.NewCountingBulk(mem)
	lg := &flagsLog{}
	opts.Clock = clock.Now
	opts.Logger = slog.New(slog.NewTextHandler(lg, nil))
	c, err := flags.New(ns, opts)
	require.NoError(t, err)
	return flagsEnv{clock: clock, ns: ns, c: c, log: lg}
}

// TestCacheOneLoadPerTTL: every definition comes from one listing and one
// bulk read per TTL, absent flags included (they cost nothing more).
func TestCacheOneLoadPerTTL(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{
		"on":  `{"enabled":true,"rolloutPercent":100,"allowlist":[]}`,
		"off": `{"enabled":false,"rolloutPercent":100,"allowlist":[]}`,
	})
	ctx := context.Background()
	for i := range 1000 {
		u := strconv.Itoa(i)
		assert.True(t, env.c.IsEnabled(ctx, "on", u))
		assert.False(t, env.c.IsEnabled(ctx, "off", u))
		assert.False(t, env.c.IsEnabled(ctx, "absent", u))
	}
	assert.Equal(t, kvtest.Counts{List: 1, BulkGet: 1}, env.ns.Counts(), "one listing and one bulk read, absent flag included")

	env.clock.Advance(29 * time.Second)
	env.c.IsEnabled(ctx, "on", "x")
	env.c.IsEnabled(ctx, "absent", "x")
	assert.Equal(t, int64(2), env.ns.Counts().Reads(), "still inside the 30s TTL")

	env.clock.Advance(time.Second)
	for range 100 {
		env.c.IsEnabled(ctx, "on", "x")
		env.c.IsEnabled(ctx, "absent", "x")
	}
	assert.Equal(t, kvtest.Counts{List: 2, BulkGet: 2}, env.ns.Counts(), "one reload after the TTL")
}

// TestKVCallsFor1000RequestsWith5Flags is the figure: 1,000
// requests checking 5 flags within one TTL.
func TestKVCallsFor1000RequestsWith5Flags(t *testing.T) {
	t.Parallel()
	defs := map[string]string{}
	for i := range 4 { // four stored flags and one absent
		defs["f"+strconv.Itoa(i)] = `{"enabled":true,"rolloutPercent":50,"allowlist":[]}`
	}
	env := flagsSetup(t, flags.Options{}, defs)
	ctx := context.Background()
	var wg sync.WaitGroup
	for r := range 1000 {
		wg.Go(func() {
			for f := range 5 {
				env.c.IsEnabled(ctx, "f"+strconv.Itoa(f), "user-"+strconv.Itoa(r))
			}
		})
	}
	wg.Wait()
	t.Logf("KV calls for 1,000 requests x 5 flags: %+v", env.ns.Counts())
	assert.Equal(t, kvtest.Counts{List: 1, BulkGet: 1}, env.ns.Counts(), "one listing and one bulk read")
}

func TestConcurrentColdLoadsAreShared(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{"f": `{"enabled":true,"rolloutPercent":100}`})
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() { assert.True(t, env.c.IsEnabled(context.Background(), "f", "u")) })
	}
	wg.Wait()
	assert.Equal(t, kvtest.Counts{List: 1, BulkGet: 1}, env.ns.Counts())
}

func TestStaleOnError(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{"f": `{"enabled":true,"rolloutPercent":100}`})
	ctx := context.Background()
	require.True(t, env.c.IsEnabled(ctx, "f", "u"))

	boom := errors.New("cloudflare is down")
	env.ns.FailWith(boom)
	env.clock.Advance(31 * time.Second)
	onDec, err := env.c.Evaluate(ctx, "f", "u")
	on := onDec.Enabled
	assert.NoError(t, err, "a known definition is served without error")
	assert.True(t, on, "the last known definition is served")
	assert.Contains(t, env.log.String(), "cloudflare is down")
	assert.Contains(t, env.log.String(), "prefix=flag:")

	// Failures are retried after RetryAfter (5s), not on every call.
	reads := env.ns.Counts().Reads()
	for range 100 {
		env.c.IsEnabled(ctx, "f", "u")
	}
	assert.Equal(t, reads, env.ns.Counts().Reads())
	env.clock.Advance(5 * time.Second)
	assert.True(t, env.c.IsEnabled(ctx, "f", "u"))
	assert.Equal(t, reads+1, env.ns.Counts().Reads())
	assert.Equal(t, 1, strings.Count(env.log.String(), "level=WARN"), "repeated failures are rate-limited")

	// Once KV is back, the new definition is picked up.
	env.ns.FailWith(nil)
	require.NoError(t, env.ns.Put(ctx, "flag:f", []byte(`{"enabled":false}`), kv.PutOptions{}))
	env.clock.Advance(5 * time.Second)
	assert.False(t, env.c.IsEnabled(ctx, "f", "u"))
}

func TestNeverLoadedFailsOff(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{"f": `{"enabled":true,"rolloutPercent":100}`})
	boom := errors.New("cloudflare is down")
	env.ns.FailWith(boom)
	ctx := context.Background()
	d, err := env.c.Evaluate(ctx, "f", "u")
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, flags.Decision{Reason: flags.ReasonError}, d)
	assert.False(t, env.c.IsEnabled(ctx, "f", "u"))
	_, err = env.c.Evaluate(ctx, "f", "u")
	assert.ErrorIs(t, err, boom, "the error is returned while remembered")
	assert.Equal(t, kvtest.Counts{List: 1}, env.ns.Counts(), "the failure is remembered for RetryAfter")

	env.ns.FailWith(nil)
	env.clock.Advance(5 * time.Second)
	onDec, err := env.c.Evaluate(ctx, "f", "u")
	on := onDec.Enabled
	assert.NoError(t, err)
	assert.True(t, on)
}

func TestEvaluateAllStaleOnError(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{"f": `{"enabled":true,"rolloutPercent":100}`})
	ctx := context.Background()
	boom := errors.New("down")
	env.ns.FailWith(boom)
	_, err := env.c.Evaluate(ctx, "f", "u")
	assert.ErrorIs(t, err, boom, "nothing known yet")
	_, err = env.c.EvaluateAll(ctx, "u")
	assert.ErrorIs(t, err, boom, "nothing known yet")
	env.ns.FailWith(nil)
	env.clock.Advance(5 * time.Second)
	assert.True(t, env.c.IsEnabled(ctx, "f", "u"))
	env.ns.FailWith(boom)
	env.clock.Advance(time.Minute)
	onDec, err := env.c.Evaluate(ctx, "f", "u")
	on := onDec.Enabled
	assert.NoError(t, err)
	assert.True(t, on, "the last snapshot is served")
	all, err := env.c.EvaluateAll(ctx, "u")
	require.NoError(t, err)
	assert.True(t, all["f"].Enabled)
}

func TestInvalidNameMakesNoKVCall(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, nil)
	ctx := context.Background()
	long := strings.Repeat("x", kv.MaxKeySize) // too long with "flag:"
	_, err := env.c.Evaluate(ctx, long, "u")
	assert.ErrorIs(t, err, kv.ErrInvalidKey)
	assert.ErrorIs(t, env.c.Set(ctx, long, flags.Flag{}), kv.ErrInvalidKey)
	assert.ErrorIs(t, env.c.Delete(ctx, long), kv.ErrInvalidKey)
	assert.ErrorIs(t, env.c.Set(ctx, "ok", flags.Flag{RolloutPercent: 101}), flags.ErrInvalidFlag)
	// An empty name would store the bare prefix "flag:" as a flag named "".
	assert.ErrorIs(t, env.c.Set(ctx, "", flags.Flag{}), kv.ErrInvalidKey)
	assert.ErrorIs(t, flags.ValidateName("flag:", ""), kv.ErrInvalidKey)
	assert.NoError(t, flags.ValidateName("flag:", "new-ui"))
	assert.Zero(t, env.ns.Counts().Total())
}

// TestUnknownNamesCostNothing: names that are not flags, as a caller that
// checks names taken from requests makes up, cost no KV call and no memory,
// and never displace a flag.
func TestUnknownNamesCostNothing(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{
		"a": `{"enabled":true,"rolloutPercent":100}`,
		"b": `{"enabled":true,"rolloutPercent":100}`,
	})
	ctx := context.Background()
	require.True(t, env.c.IsEnabled(ctx, "a", "u"))
	require.NoError(t, env.c.Set(ctx, "c", flags.Flag{Enabled: true, RolloutPercent: 100}))
	before := env.ns.Counts().Reads()
	for i := range 20_000 {
		d, err := env.c.Evaluate(ctx, "unknown-"+strconv.Itoa(i), "u")
		require.NoError(t, err)
		require.Equal(t, flags.ReasonNotFound, d.Reason)
	}
	for range 100 {
		assert.True(t, env.c.IsEnabled(ctx, "a", "u"))
		assert.True(t, env.c.IsEnabled(ctx, "b", "u"))
		assert.True(t, env.c.IsEnabled(ctx, "c", "u"), "set through this client: known without a read")
	}
	assert.Equal(t, before, env.ns.Counts().Reads(), "no read for unknown names")
	// A flag deleted and set again through the client is served at once.
	require.NoError(t, env.c.Delete(ctx, "a"))
	assert.False(t, env.c.IsEnabled(ctx, "a", "u"))
	require.NoError(t, env.c.Set(ctx, "a", flags.Flag{Enabled: true, RolloutPercent: 100}))
	assert.True(t, env.c.IsEnabled(ctx, "a", "u"))
	assert.Equal(t, before, env.ns.Counts().Reads())
}

func TestAdmin(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, nil)
	ctx := context.Background()
	in := flagsUserAt(t, "beta", 30, true)
	assert.False(t, env.c.IsEnabled(ctx, "beta", in), "loads the (empty) definitions")
	require.NoError(t, env.c.Set(ctx, "beta", flags.Flag{Enabled: true, RolloutPercent: 30}))
	require.NoError(t, env.c.Set(ctx, "dark", flags.Flag{Enabled: true, RolloutPercent: 0, Allowlist: []string{in},
		Variants: []flags.Variant{{"x", 1}}}))

	// Stored exactly as the TypeScript recipe writes it.
	it, found, err := env.ns.Get(ctx, "flag:beta", kv.GetOptions{})
	require.NoError(t, err)
	require.True(t, found)
	assert.JSONEq(t, `{"enabled":true,"rolloutPercent":30,"allowlist":[]}`, string(it.Value))

	// The writer serves its own writes without reading them back.
	reads := env.ns.Counts().Reads()
	assert.True(t, env.c.IsEnabled(ctx, "beta", in))
	assert.Equal(t, reads, env.ns.Counts().Reads())

	list, err := env.c.List(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 2)
	assert.Equal(t, 30.0, list["beta"].RolloutPercent)

	all, err := env.c.EvaluateAll(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, map[string]flags.Decision{
		"beta": {Enabled: true, Reason: flags.ReasonRollout},
		"dark": {Enabled: true, Variant: "x", Reason: flags.ReasonAllowed},
	}, all)

	require.NoError(t, env.c.Delete(ctx, "beta"))
	assert.False(t, env.c.IsEnabled(ctx, "beta", in))
	d, err := env.c.Evaluate(ctx, "beta", in)
	require.NoError(t, err)
	assert.Equal(t, flags.ReasonNotFound, d.Reason)
	all, err = env.c.EvaluateAll(ctx, in)
	require.NoError(t, err)
	assert.NotContains(t, all, "beta", "the snapshot forgets a deleted flag at once")

	f, found, err := env.c.Get(ctx, "dark")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, []string{in}, f.Allowlist)
}

func TestEvaluatorFromContext(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{"f": `{"enabled":true,"rolloutPercent":100,
		"variants":[{"name":"v","weight":1}]}`})
	ctx := flags.NewContext(context.Background(), env.c.For(context.Background(), "u"))
	ev := flags.FromContext(ctx)
	require.NotNil(t, ev)
	assert.Equal(t, "u", ev.UserID())
	assert.True(t, ev.IsEnabled("f"))
	assert.Equal(t, "v", ev.Variant("f"))
	all, err := ev.EvaluateAll()
	require.NoError(t, err)
	assert.Len(t, all, 1)

	var none *flags.Evaluator = flags.FromContext(context.Background())
	assert.Nil(t, none)
	assert.False(t, none.IsEnabled("f"), "a nil Evaluator reports flags off")
	assert.Empty(t, none.Variant("f"))
}

// The middleware binds its evaluator to the request's mark when there is
// one; FromContext finds it there, and one put in the context wins.
func TestEvaluatorFromMark(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{"f": `{"enabled":true,"rolloutPercent":100}`})
	ctx, mark := reqmark.Ensure(context.Background())
	assert.Nil(t, flags.FromContext(ctx))
	bound := env.c.For(ctx, "bound")
	require.True(t, mark.BindFlags(bound))
	assert.Same(t, bound, flags.FromContext(ctx))
	assert.Same(t, bound, flags.FromContext(context.WithValue(ctx, struct{}{}, 1)), "a context further in shares the mark")
	own := env.c.For(ctx, "own")
	assert.Same(t, own, flags.FromContext(flags.NewContext(ctx, own)))
	assert.Nil(t, flags.FromContext(flags.NewContext(ctx, nil)), "a nil Evaluator in the context hides the bound one, as before")
}

// Bind puts the evaluator on the request's mark only when nothing else
// would win over it: a mark with no evaluator, and no evaluator in the
// context (one put there further out, before the mark existed).
func TestBind(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{"f": `{"enabled":true,"rolloutPercent":100}`})
	bg := context.Background()
	a, b := env.c.For(bg, "a"), env.c.For(bg, "b")

	got := flags.Bind(bg, a) // no mark: in the context
	assert.NotEqual(t, bg, got)
	assert.Same(t, a, flags.FromContext(got))

	ctx, mark := reqmark.Ensure(bg) // a mark: bound, no new context
	assert.Equal(t, ctx, flags.Bind(ctx, a))
	assert.Same(t, a, mark.Flags())
	inner := flags.Bind(ctx, b) // bound already: b in the context, and it wins
	assert.NotEqual(t, ctx, inner)
	assert.Same(t, b, flags.FromContext(inner))
	assert.Same(t, a, flags.FromContext(ctx))

	outer := flags.NewContext(bg, a) // in the context before the mark was made
	ctx, mark = reqmark.Ensure(outer)
	inner = flags.Bind(ctx, b)
	assert.NotEqual(t, ctx, inner)
	assert.Nil(t, mark.Flags(), "not bound: a in the context would win over it")
	assert.Same(t, b, flags.FromContext(inner))
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	_, err := flags.New(memory.New(memory.Options{}), flags.Options{CacheTTL: -1})
	assert.ErrorIs(t, err, kv.ErrInvalidOptions)
	_, err = flags.New(memory.New(memory.Options{}), flags.Options{RetryAfter: -1})
	assert.ErrorIs(t, err, kv.ErrInvalidOptions)
	_, err = flags.New(nil, flags.Options{})
	assert.ErrorIs(t, err, kv.ErrInvalidOptions)
}

func TestCancelledCallerIsNotRemembered(t *testing.T) {
	t.Parallel()
	env := flagsSetup(t, flags.Options{}, map[string]string{"f": `{"enabled":true,"rolloutPercent":100}`})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := env.c.Evaluate(ctx, "f", "u")
	assert.ErrorIs(t, err, context.Canceled)
	// The next caller loads at once instead of getting the cancelled
	// caller's error for RetryAfter.
	d, err := env.c.Evaluate(context.Background(), "f", "u")
	assert.NoError(t, err)
	assert.True(t, d.Enabled)
	assert.Empty(t, env.log.String(), "a cancelled caller is not a KV failure")
}

// TestSetBeforeFirstLoad: a Set on a Client that has loaded nothing yet is
// served, and the first evaluation still loads the other flags, with the
// real clock (whose coarse reading may lag the Client's creation).
func TestSetBeforeFirstLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := kvtest.NewCountingBulk(memory.New(memory.Options{}))
	require.NoError(t, ns.Put(ctx, "flag:other", []byte(`{"enabled":true,"rolloutPercent":100}`), kv.PutOptions{}))
	c, err := flags.New(ns, flags.Options{})
	require.NoError(t, err)
	require.NoError(t, c.Set(ctx, "mine", flags.Flag{Enabled: true, RolloutPercent: 100}))
	assert.True(t, c.IsEnabled(ctx, "other", "u"), "loaded by the first evaluation")
	assert.True(t, c.IsEnabled(ctx, "mine", "u"))
	assert.Equal(t, kvtest.Counts{Put: 2, List: 1, BulkGet: 1}, ns.Counts())
}
