package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"

	"github.com/kvkit/kvkit/kv/memory"
	"github.com/kvkit/kvkit/middleware/nethttp"
	"github.com/kvkit/kvkit/patterns/cache"
)

// item is the value of the read-through cache rows.
type item struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func rowCacheHot(c *Config) (Line, error) {
	rt, err := cache.New[item](memory.New(memory.Options{}), cache.Options{Logger: quiet})
	if err != nil {
		return Line{}, err
	}
	defer closeAll(rt)
	var l cache.Loader[item] = cache.LoaderFunc[item](func(ctx context.Context, key string) (item, error) {
		return item{ID: 42, Name: "widget"}, nil
	})
	if _, err := rt.Get(ctx, "hot", l); err != nil {
		return Line{}, err
	}
	oc := otter.Must(&otter.Options[string, item]{MaximumSize: 10_000})
	oc.Set("hot", item{ID: 42, Name: "widget"})
	ours := func(n int) {
		for range n {
			if v, err := rt.Get(ctx, "hot", l); err != nil || v.ID != 42 {
				panic(fmt.Sprint(v, err))
			}
		}
	}
	ref := func(n int) {
		for range n {
			if v, ok := oc.GetIfPresent("hot"); !ok || v.ID != 42 {
				panic("otter miss")
			}
		}
	}
	before := rt.Stats()
	ours(1000)
	if s := rt.Stats(); s.LocalHits-before.LocalHits != 1000 {
		return Line{}, fmt.Errorf("not local hits: %+v", s)
	}
	return ratioLine(c.Compare("cache-hot", Pair{Ours: ours, Ref: ref}), 1.2, nil), nil
}

// burst runs fn(key) on callers goroutines at once, once per operation,
// each operation on a new key, and waits for all of them. arrived counts
// the callers of the current operation that have started fn.
type burst struct {
	start   []chan string
	wg      sync.WaitGroup
	next    atomic.Int64
	arrived atomic.Int32
	tag     string
}

func newBurst(callers int, tag string, fn func(key string)) *burst {
	b := &burst{start: make([]chan string, callers), tag: tag}
	for i := range b.start {
		ch := make(chan string, 1)
		b.start[i] = ch
		go func() {
			for key := range ch {
				b.arrived.Add(1)
				fn(key)
				b.wg.Done()
			}
		}()
	}
	return b
}

func (b *burst) run(n int) {
	for range n {
		key := b.tag + strconv.FormatInt(b.next.Add(1), 10)
		b.arrived.Store(0)
		b.wg.Add(len(b.start))
		for _, ch := range b.start {
			ch <- key
		}
		b.wg.Wait()
	}
}

func (b *burst) stop() {
	for _, ch := range b.start {
		close(ch)
	}
}

// load is the loader of the cold-key row: it waits until every caller of
// the burst has made its call (so that all of them overlap one load, as
// callers of a slow origin do), then works for coldLoad.
func (b *burst) load() {
	for int(b.arrived.Load()) < len(b.start) {
		runtime.Gosched()
	}
	spin(coldLoad)
}

// spin stands for the loader's own work: a fast database.
func spin(d time.Duration) {
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

const coldLoad = 10 * time.Microsecond

func rowCacheCold64(c *Config) (Line, error) {
	const callers = 64
	rt, err := cache.New[item](memory.New(memory.Options{}), cache.Options{Logger: quiet})
	if err != nil {
		return Line{}, err
	}
	defer closeAll(rt)
	var oursLoads, refLoads atomic.Int64
	var ours, ref *burst
	var l cache.Loader[item] = cache.LoaderFunc[item](func(ctx context.Context, key string) (item, error) {
		oursLoads.Add(1)
		ours.load()
		return item{ID: 42, Name: key}, nil
	})
	ours = newBurst(callers, "a", func(key string) {
		if v, err := rt.Get(ctx, key, l); err != nil || v.Name != key {
			panic(fmt.Sprint(v, err))
		}
	})
	defer ours.stop()
	var g singleflight.Group
	load := func(key string) func() (any, error) {
		return func() (any, error) {
			refLoads.Add(1)
			ref.load()
			return item{ID: 42, Name: key}, nil
		}
	}
	ref = newBurst(callers, "b", func(key string) {
		v, err, _ := g.Do(key, load(key))
		if err != nil || v.(item).Name != key {
			panic(fmt.Sprint(v, err))
		}
	})
	defer ref.stop()
	cmp := c.Compare("cache-cold64", Pair{Ours: ours.run, Ref: ref.run, PerOp: callers})
	line := ratioLine(cmp, 1.2, nil)
	line.Pass = line.Pass && cmp.OursAllocs <= cmp.RefAllocs
	line.Ours = fmt.Sprintf("%s, %s allocs/caller", fmtNs(cmp.OursNs), fmtAllocs(cmp.OursAllocs))
	line.Ref = fmt.Sprintf("%s, %s allocs/caller", fmtNs(cmp.RefNs), fmtAllocs(cmp.RefAllocs))
	line.Notes = fmt.Sprintf("time per burst of %d callers of one new key, the loader waiting for all 64 calls and then working %v; loads per burst ours %.2f, singleflight %.2f; %d rounds",
		callers, coldLoad, float64(oursLoads.Load())/float64(ours.next.Load()), float64(refLoads.Load())/float64(ref.next.Load()), cmp.Rounds)
	return line, nil
}

// hits serves hits of urls in a random order through h, reusing one
// request and one discarding writer: the middleware's own cost.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

func hits(h http.Handler, paths []string) Side {
	// The URLs in the order they are requested, side by side in memory,
	// as fresh as a server's parsed request: the harness must not add a
	// cache miss per request that only the large side pays.
	urls := make([]url.URL, len(paths))
	for i, p := range paths {
		urls[i].Path = p
	}
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	w := &discardWriter{h: http.Header{}}
	i := 0
	return func(n int) {
		for range n {
			r.URL = &urls[i%len(urls)]
			i++
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	}
}

// orderLen is the length of the request sequences of the scale rows: at
// least 100,000, so that every item of the large side is visited.
const orderLen = 1 << 17

// randomOrder returns n indexes into size items, in a random order that
// visits every item when n >= size.
func randomOrder(size, n int, seed uint64) []int32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]int32, n)
	for i := range out {
		if i%size == 0 {
			perm := rng.Perm(size)
			for j := i; j < min(n, i+size); j++ {
				out[j] = int32(perm[j-i])
			}
		}
	}
	return out
}

// inOrder returns copies of items in a random order (see randomOrder),
// laid out one after the other in one block of memory, so that reading
// them in turn costs the same at any number of items.
func inOrder(items []string, n int, seed uint64) []string {
	order := randomOrder(len(items), n, seed)
	var size int
	for _, i := range order {
		size += len(items[i])
	}
	var b strings.Builder
	b.Grow(size)
	for _, i := range order {
		b.WriteString(items[i])
	}
	all := b.String()
	out := make([]string, n)
	at := 0
	for j, i := range order {
		out[j] = all[at : at+len(items[i])]
		at += len(items[i])
	}
	return out
}

func itemPaths(n int) []string {
	paths := make([]string, n)
	for i := range paths {
		paths[i] = "/items/" + strconv.Itoa(i)
	}
	return paths
}

func itemURLs(n int) []*url.URL {
	urls := make([]*url.URL, n)
	for i := range urls {
		urls[i] = &url.URL{Path: "/items/" + strconv.Itoa(i)}
	}
	return urls
}

// scaleLocalBytes is the local tier of the scale row: large enough to hold
// its 100,000 responses of 1 KiB (about 1.4 KB each with their headers,
// key and bookkeeping, as the respcache-mem row measures), so that the row
// measures a hit at scale. The default 64 MiB holds about 47,000 of them:
// past that, hits are KV reads, a cost the row is not about.
const scaleLocalBytes = 256 << 20

// filledCache returns the middleware over a response cache holding the
// first n item URLs (each a 1 KiB body).
func filledCache(n int) (http.Handler, *cache.ResponseCache, error) {
	// Stores run after the response, at most MaxPendingStores at a time:
	// allow all of them, then wait for them.
	rc, err := cache.NewResponseCache(memory.New(memory.Options{}), cache.ResponseOptions{
		Logger: quiet, MaxPendingStores: n, LocalMaxBytes: scaleLocalBytes})
	if err != nil {
		return nil, nil, err
	}
	h := nethttp.Cache(rc)(bare)
	urls := itemURLs(n)
	w := &discardWriter{h: http.Header{}}
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	for _, u := range urls {
		r.URL = u
		clear(w.h)
		h.ServeHTTP(w, r)
	}
	if err := waitStored(rc, n); err != nil {
		return nil, nil, err
	}
	return h, rc, nil
}

func rowRespCacheScale(c *Config) (Line, error) {
	big, small := c.n(100_000, 1000), 10
	hb, rcb, err := filledCache(big)
	if err != nil {
		return Line{}, err
	}
	defer closeAll(rcb)
	hs, rcs, err := filledCache(small)
	if err != nil {
		return Line{}, err
	}
	defer closeAll(rcs)
	ours := hits(hb, inOrder(itemPaths(big), orderLen, 1))
	ref := hits(hs, inOrder(itemPaths(small), orderLen, 2))
	b0 := rcb.Stats()
	cmp := c.Compare("respcache-100k", Pair{Ours: ours, Ref: ref})
	b1 := rcb.Stats()
	l := ratioLine(cmp, 1.5, nil)
	l.Notes = fmt.Sprintf("%s; %d vs %d URLs, 1 KiB bodies, default options but LocalMaxBytes %d MiB (to hold the working set), random order; at %d URLs: %d hits, %d misses during the rounds",
		l.Notes, big, small, scaleLocalBytes>>20, big, b1.Hits-b0.Hits, b1.Misses-b0.Misses)
	return l, nil
}

func rowRespCacheMem(c *Config) (Line, error) {
	n := c.n(20_000, 2000)
	var stored int64
	per, err := HeapPerEntry(n, func(n int) (any, error) {
		rc, err := cache.NewResponseCache(discard{}, cache.ResponseOptions{Logger: quiet, MaxPendingStores: n})
		if err != nil {
			return nil, err
		}
		h := nethttp.Cache(rc)(bare)
		w := &discardWriter{h: http.Header{}}
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		for _, u := range itemURLs(n) {
			r.URL = u
			clear(w.h)
			h.ServeHTTP(w, r)
		}
		if err := waitStored(rc, n); err != nil {
			return nil, err
		}
		stored = rc.Stats().Stored
		return rc, nil
	})
	if err != nil {
		return Line{}, err
	}
	if stored != int64(n) {
		return Line{}, fmt.Errorf("stored %d of %d", stored, n)
	}
	ref := float64(len(body1K) + 400)
	return Line{
		Ours: fmtBytes(per) + "/entry", Ref: fmtBytes(ref) + " (body + 400 B)",
		Ratio: fmt.Sprintf("%.2f×", per/ref), Pass: per <= ref, Judged: true,
		Notes: fmt.Sprintf("live heap of the local tier per stored response, %d URLs /items/N with a 1 KiB body over a namespace that keeps nothing", n),
	}, nil
}

// waitStored waits until rc's background KV writes of n responses have
// ended, and fails when some were dropped or do not end within a minute.
func waitStored(rc *cache.ResponseCache, n int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		s := rc.Stats()
		if s.Stored+s.Dropped >= int64(n) || time.Now().After(deadline) {
			if s.Stored != int64(n) {
				return fmt.Errorf("stored %d of %d (%d dropped)", s.Stored, n, s.Dropped)
			}
			return nil
		}
		time.Sleep(time.Millisecond)
	}
}
