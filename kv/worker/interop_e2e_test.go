//go:build e2e

package worker_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kvkit/kvkit/kv"
	"github.com/kvkit/kvkit/kv/worker"
	"github.com/kvkit/kvkit/patterns/counter"
	"github.com/kvkit/kvkit/patterns/flags"
	"github.com/kvkit/kvkit/patterns/session"
)

// The interop tests share one namespace between kvkit (Go, through kvkit's
// Worker) and the TypeScript recipes of the @workkit/kv patterns running as
// a second Worker in the same workerd (e2e/miniflare/recipes.js), and check
// both directions.

type apiResponse struct {
	Items  []string `json:"items"`
	Total  int      `json:"total"`
	Source string   `json:"source"`
}

// A cached API response: TypeScript caches it, Go reads the same value and
// expiration; Go caches one, TypeScript serves it as a hit without calling
// its origin. The JSON text is byte for byte what the other side writes.
func TestInteropCachedResponse(t *testing.T) {
	t.Parallel()
	inst := instance(t)
	ns := inst.Namespace(t, worker.Options{})
	ctx := context.Background()
	store := kv.Must(kv.New[apiResponse](ns, kv.Options{Prefix: "interop/api/"}))

	fromTS := apiResponse{Items: []string{"a", "ü", "<b>"}, Total: 3, Source: "typescript"}
	var res struct {
		Value apiResponse `json:"value"`
		Hit   bool        `json:"hit"`
	}
	before := time.Now()
	require.NoError(t, inst.Recipe(ctx, "cache.get", map[string]any{"key": "interop/api/ts", "ttl": 300, "response": fromTS}, &res))
	assert.False(t, res.Hit)
	e, found, err := store.GetEntry(ctx, "ts")
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, fromTS, e.Value)
	assert.Equal(t, listedExpiration(t, "interop/api/ts"), e.Expiration.Unix(), "the same expiration on both sides")
	assert.InDelta(t, before.Unix()+300, e.Expiration.Unix(), 5)
	raw, _, err := ns.Get(ctx, "interop/api/ts", kv.GetOptions{})
	require.NoError(t, err)
	mine, err := kv.JSON.Marshal(fromTS)
	require.NoError(t, err)
	assert.Equal(t, string(mine), string(raw.Value), "JSON.stringify and kv.JSON write the same bytes")

	var calls int
	require.NoError(t, inst.Recipe(ctx, "cache.originCalls", nil, &calls))
	fromGo := apiResponse{Items: []string{"x"}, Total: 1, Source: "go & friends"}
	require.NoError(t, store.Put(ctx, "go", fromGo, kv.WithTTL(10*time.Minute)))
	require.NoError(t, inst.Recipe(ctx, "cache.get", map[string]any{"key": "interop/api/go", "ttl": 300, "response": apiResponse{Source: "origin"}}, &res))
	assert.True(t, res.Hit, "a value Go cached is a hit for the recipe")
	assert.Equal(t, fromGo, res.Value)
	var after int
	require.NoError(t, inst.Recipe(ctx, "cache.originCalls", nil, &after))
	assert.Equal(t, calls, after, "the recipe did not call its origin")
	text := rawGet(t, inst, "interop/api/go")
	require.NotNil(t, text)
	mine, _ = kv.JSON.Marshal(fromGo)
	assert.Equal(t, string(mine), *text)
}

// listedExpiration reads key's expiration as a TypeScript Worker sees it
// (its list entry).
func listedExpiration(t *testing.T, key string) int64 {
	t.Helper()
	var got struct {
		Expiration int64 `json:"expiration"`
	}
	require.NoError(t, instance(t).Recipe(context.Background(), "meta.get", map[string]any{"key": key}, &got))
	return got.Expiration
}

type docMeta struct {
	Owner string   `json:"owner"`
	Rev   int      `json:"rev"`
	Tags  []string `json:"tags"`
}

// Metadata on a put, both ways, with the expiration.
func TestInteropMetadata(t *testing.T) {
	t.Parallel()
	inst := instance(t)
	ctx := context.Background()
	store := kv.Must(kv.New[string](inst.Namespace(t, worker.Options{}), kv.Options{Prefix: "interop/meta/", Codec: kv.Text}))

	tsMeta := docMeta{Owner: "ts", Rev: 3, Tags: []string{"a", "é"}}
	require.NoError(t, inst.Recipe(ctx, "meta.put", map[string]any{"key": "interop/meta/ts", "value": "hello from TypeScript", "metadata": tsMeta, "ttl": 3600}, nil))
	var meta docMeta
	v, found, err := store.GetWithMetadata(ctx, "ts", &meta)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "hello from TypeScript", v)
	assert.Equal(t, tsMeta, meta)
	e, _, err := store.GetEntry(ctx, "ts")
	require.NoError(t, err)
	assert.Equal(t, listedExpiration(t, "interop/meta/ts"), e.Expiration.Unix())
	assert.InDelta(t, time.Now().Unix()+3600, e.Expiration.Unix(), 5)

	goMeta := docMeta{Owner: "go", Rev: 4, Tags: []string{}}
	require.NoError(t, store.Put(ctx, "go", "hello from Go", kv.WithMetadata(goMeta), kv.WithTTL(2*time.Hour)))
	var got struct {
		Value      string  `json:"value"`
		Metadata   docMeta `json:"metadata"`
		Expiration int64   `json:"expiration"`
	}
	require.NoError(t, inst.Recipe(ctx, "meta.get", map[string]any{"key": "interop/meta/go"}, &got))
	assert.Equal(t, "hello from Go", got.Value)
	assert.Equal(t, goMeta, got.Metadata)
	e, _, err = store.GetEntry(ctx, "go")
	require.NoError(t, err)
	assert.Equal(t, e.Expiration.Unix(), got.Expiration)
	assert.InDelta(t, time.Now().Unix()+7200, got.Expiration, 5)
}

type user struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Sessions: a record the recipe creates loads in patterns/session with the
// same data and deadline; a session patterns/session creates loads in the
// recipe.
func TestInteropSessions(t *testing.T) {
	t.Parallel()
	inst := instance(t)
	ctx := context.Background()
	m := session.Must(session.New[user](inst.Namespace(t, worker.Options{}), session.Options{}))

	token := session.NewToken()
	var rec struct {
		Data      user  `json:"data"`
		CreatedAt int64 `json:"createdAt"`
		ExpiresAt int64 `json:"expiresAt"`
	}
	ada := user{Name: "Ada", Role: "admin"}
	require.NoError(t, inst.Recipe(ctx, "session.create", map[string]any{"token": token, "data": ada, "ttl": 3600}, &rec))
	s := m.Open(token)
	u, ok, err := s.Get(ctx)
	require.NoError(t, err)
	require.True(t, ok, "Go loads the session the recipe created")
	assert.Equal(t, ada, u)
	exp, ok, err := s.Expires(ctx)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, rec.ExpiresAt, exp.UnixMilli())

	s = m.Open("")
	bob := user{Name: "Bob", Role: "editor"}
	require.NoError(t, s.Set(ctx, bob))
	exp, _, err = s.Expires(ctx)
	require.NoError(t, err)
	cookie, err := s.Commit(ctx)
	require.NoError(t, err)
	require.NotNil(t, cookie)
	var got *struct {
		Data      user  `json:"data"`
		ExpiresAt int64 `json:"expiresAt"`
	}
	require.NoError(t, inst.Recipe(ctx, "session.get", map[string]any{"token": cookie.Value}, &got))
	require.NotNil(t, got, "the recipe loads the session Go created")
	assert.Equal(t, bob, got.Data)
	assert.Equal(t, exp.UnixMilli(), got.ExpiresAt)
	require.NoError(t, inst.Recipe(ctx, "session.get", map[string]any{"token": session.NewToken()}, &got))
	assert.Nil(t, got, "an unknown token has no session")
}

// Feature flags: five flags at mixed rollouts, some written by Go and some
// by the recipe, decided for 1,000 users on both sides: every decision is
// the same.
func TestInteropFlags(t *testing.T) {
	t.Parallel()
	inst := instance(t)
	ctx := context.Background()
	fl := flags.Must(flags.New(inst.Namespace(t, worker.Options{}), flags.Options{}))
	defs := []struct {
		name   string
		flag   flags.Flag
		byGo   bool
		approx float64 // share of users on, roughly
	}{
		{"interop-checkout", flags.Flag{Enabled: true, RolloutPercent: 12.5, Allowlist: []string{"user-7", "user-500"}}, true, 12.5},
		{"interop-search", flags.Flag{Enabled: true, RolloutPercent: 50}, false, 50},
		{"interop-dark", flags.Flag{Enabled: true, RolloutPercent: 99.9, Allowlist: []string{}}, true, 99.9},
		{"interop-beta", flags.Flag{Enabled: false, RolloutPercent: 100, Allowlist: []string{"user-1"}}, false, 0},
		{"interop-thirds", flags.Flag{Enabled: true, RolloutPercent: 33.333, Allowlist: []string{"user-3", "user-4"}}, false, 33.333},
	}
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.name
		if d.byGo {
			require.NoError(t, fl.Set(ctx, d.name, d.flag))
		} else {
			require.NoError(t, inst.Recipe(ctx, "flag.set", map[string]any{"name": d.name, "flag": d.flag}, nil))
		}
	}
	users := make([]string, 1000)
	for i := range users {
		users[i] = "user-" + strconv.Itoa(i)
	}
	var ts map[string][]bool
	require.NoError(t, inst.Recipe(ctx, "flag.decide", map[string]any{"flags": names, "users": users}, &ts))
	for _, d := range defs {
		require.Len(t, ts[d.name], len(users), d.name)
		on, differ := 0, 0
		for i, u := range users {
			goOn := fl.IsEnabled(ctx, d.name, u)
			if goOn != ts[d.name][i] {
				differ++
			}
			if goOn {
				on++
			}
		}
		assert.Zero(t, differ, "%s: decisions that differ", d.name)
		assert.InDelta(t, d.approx*10, on, 50, "%s: %d of 1,000 users on", d.name, on)
	}
	// The allowlist wins over the rollout, on both sides.
	var allowed bool
	require.NoError(t, inst.Recipe(ctx, "flag.isEnabled", map[string]any{"flag": "interop-checkout", "user": "user-500"}, &allowed))
	assert.True(t, allowed)
	assert.True(t, fl.IsEnabled(ctx, "interop-checkout", "user-500"))
}

// A counter stored as decimal text, incremented from both sides (the
// recipe's read-add-write, Go's Direct mode and its coalesced flush), ends
// at the sum.
func TestInteropCounter(t *testing.T) {
	t.Parallel()
	inst := instance(t)
	ctx := context.Background()
	ns := inst.Namespace(t, worker.Options{})
	name := fmt.Sprintf("interop-visits-%d", time.Now().UnixNano())
	incr := func(delta int) {
		t.Helper()
		require.NoError(t, inst.Recipe(ctx, "counter.increment", map[string]any{"name": name, "delta": delta}, nil))
	}
	want := int64(0)
	for range 3 {
		incr(1)
		want++
	}
	direct, err := counter.New(ns, counter.Options{Mode: counter.Direct})
	require.NoError(t, err)
	for range 2 {
		_, err := direct.Increment(ctx, name, 2)
		require.NoError(t, err)
		want += 2
	}
	require.NoError(t, direct.Close(ctx))
	incr(5)
	want += 5

	never := make(chan time.Time) // the test flushes, the ticker never does
	coalesced, err := counter.New(ns, counter.Options{Tick: never})
	require.NoError(t, err)
	for range 4 {
		_, err := coalesced.Increment(ctx, name, 1)
		require.NoError(t, err)
		want++
	}
	require.NoError(t, coalesced.Flush(ctx))
	require.NoError(t, coalesced.Close(ctx))
	incr(1)
	want++

	var ts int64
	require.NoError(t, inst.Recipe(ctx, "counter.get", map[string]any{"name": name}, &ts))
	assert.Equal(t, want, ts, "the recipe reads the sum")
	reader, err := counter.New(ns, counter.Options{Mode: counter.Direct})
	require.NoError(t, err)
	got, err := reader.Get(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, want, got, "Go reads the sum")
	require.NoError(t, reader.Close(ctx))
	text := rawGet(t, inst, "count:"+name)
	require.NotNil(t, text)
	assert.Equal(t, strconv.FormatInt(want, 10), *text, "decimal text")
}
