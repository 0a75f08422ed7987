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
// each flush (with Options.SingleWriter a flush is one write and no read);
// KV lags the process by at most the flush interval; a crash loses at most
// the increments of the last interval. Several processes sharing a key:
// each flush reads, adds and writes, so two processes that flush one key
// within KV's propagation delay (up to about 60 s across locations)
// overwrite each other's delta; each process sees the others' counts as of
// its last read (at most one interval old, plus propagation).
//
// A write that fails after KV may have applied it (a dropped connection, a
// timeout, a 5xx) is not read back and added again, which would count its
// delta twice: the next flush writes the same absolute value plus what was
// counted since, with no read before it (another writer's update landing in
// between is overwritten, as above). A write KV refused (429, 401/403) did
// not land: the next flush reads as usual. A flush writes at most 10,000
// keys a call (kv.MaxBulkWrite, the Workers KV limit), and judges each
// call by its own failure.
//
// An Increment of a known counter takes only that counter's lock (no lock
// shared with other counters) and, without Options.Clock, reads a clock
// refreshed every millisecond rather than time.Now.
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
// No request waits for KV. A key this process has not synced in the
// current window (a new client, or one idle for over a sync interval) is
// decided from what the process knows, its own counts; the flusher reads
// every such key at its next tick (every SyncInterval/2), the current and
// the previous window, together with the writes of the dirty keys, 100 keys
// a bulk read. 2,000 new clients cost 40 bulk reads and 1 bulk write, where
// a read per key and window made 4,000 reads (the REST budget is 1,200
// calls per 5 minutes). With SingleWriter, in a window that started after
// the Limiter was made, a key it never counted is 0 and is not read at all.
//
// The accuracy cost is across processes only (in one process the limit is
// exact): a client new to a process may get up to the limit through it
// before that process's next sync shows the other processes' counts, once
// per window and process, on top of the lag every process already has (the
// others' counts as of their last sync). [LimiterOptions].ReadOnRequest
// makes the first request of such a key wait for its stored counts instead
// (two reads per new key, one at a time). Either way KV cannot hold requests
// up: a request waits for KV at most KVTimeout (250 ms), and
// under an outage requests are decided from local counts, with the error
// returned for keys that could not be synced (fail open, or closed, as the
// caller chooses).
//
// The net/http and Echo middleware (middleware/nethttp, middleware/echo) key
// requests with a KeyFunc from middleware/httpkey: httpkey.ByIP (forwarding
// headers believed only from the proxies configured for each; IPv6 grouped
// by /64, or more coarsely with httpkey.IPConfig.IPv6Prefix, e.g. 48 for
// clients that each get a /48), httpkey.ByHeader, or any
// func(*http.Request) (string, error), such as one reading the session user
// that a session middleware earlier in the chain put in the request
// context.
package counter
