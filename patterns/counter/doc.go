// Package counter provides approximate counters on Workers KV and a rate
// limiter built on them.
//
// KV has no atomic increment and takes about one write per second per key.
// The TypeScript recipe (read the text, add one, write it back) costs two
// calls per increment and loses counts under concurrency. A [Counter]
// instead counts in process and writes each dirty key at most once per
// flush interval, as decimal text that the recipe reads and writes too:
//
//	c, err := counter.New(ns, counter.Options{}) // keys "count:<name>"
//	if err != nil { ... }
//	defer c.Close(ctx)                           // writes what is pending
//	n, err := c.Increment(ctx, "visits", 1)      // no KV call once known
//
// # Modes and their accuracy
//
// [Coalesced] (default), one writer per key: the stored value is exact after
// each flush (with Options.SingleWriter a flush is one write and no read); KV lags the process by at most the flush interval; a crash
// loses at most the increments of the last interval. Several processes
// sharing a key: each flush reads, adds and writes, so two processes that
// flush one key within KV's propagation delay (up to about 60 s across
// locations) overwrite each other's delta; each process sees the others'
// counts as of its last read (at most one interval old, plus propagation).
//
// [Sharded]: each process writes its own key prefix+name+":"+Instance and
// nothing else, so no update is ever lost. A read sums the shards with one
// listing (each shard carries its value in its metadata; shards written
// without it, such as the plain key a Worker increments, cost one bulk
// read), cached for the flush interval: other processes' counts lag by at
// most two intervals plus KV's propagation delay.
//
// [Direct]: the recipe, for parity: one read and one write per Increment,
// exact only with no concurrent writer, and KV refuses more than about one
// write per second per key.
//
// # Rate limits
//
// A [Limiter] keeps one counter per key and window (TTL: two windows, never
// under kv.MinTTL), decides from local counts plus the last known stored
// counts (synced at most once per second per key), and uses the
// sliding-window estimate of go-chi/httprate by default:
//
//	lim, err := counter.NewLimiter(ns, 100, time.Minute, counter.LimiterOptions{})
//	res, err := lim.Allow(ctx, key) // res.Allowed, Remaining, Reset, RetryAfter
//
// The net/http and Echo middleware (middleware/nethttp, middleware/echo) key
// requests with a KeyFunc from middleware/httpkey: httpkey.ByIP (forwarding
// headers believed only from the proxies configured for each, IPv6 grouped
// by /64), httpkey.ByHeader, or any func(*http.Request) (string, error),
// such as one reading the session user that a session middleware earlier in
// the chain put in the request context.
package counter
