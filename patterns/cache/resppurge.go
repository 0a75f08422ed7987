package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kvkit/kvkit/kv"
)

// Purges across processes. PurgeURL and PurgeTag do their durable part as
// before (KV deletes of the URL's entries; the tag's generation record),
// apply at once in this process, and append what they purged to one purge
// log record in KV (prefix + "!purges"). Every process reads that record
// at most once per PurgeBound, on the first request after the bound has
// passed (that request makes the read, at most KVTimeout; requests that
// arrive meanwhile do not wait), and applies the purges it has not seen:
// it drops the URL's entries from its in-process tier and takes the tag's
// new generation. So a purge returned at t is seen by every process for
// the requests it starts after t + PurgeBound + one KV read, at a cost of
// one KV read per PurgeBound per process whatever its traffic (12 a minute
// at the default 5 s; measured by TestPurgeLogReadsPerMinute), plus one
// read a minute per tag in use (the safety net below).
//
// What KV gives limits what this can promise, and the rest is a safety
// net:
//   - A process sees the log as its backend does. Over one backend that is
//     consistent (kv/memory, kvserver, one Cloudflare location's cache of a
//     key it just wrote), the bound holds. Across Cloudflare locations a
//     write can take 60 s or more to show: the bound is then KV's, not
//     PurgeBound.
//   - KV has no compare-and-swap: the log is read, appended to and written
//     back, so two processes purging at the same moment (or within KV's
//     propagation delay of each other, across locations) can overwrite
//     each other's append. A lost append is still durable in its KV
//     deletes and tag record: tag generations are read again from their
//     records at least once a minute, and a purged URL leaves other
//     processes' memory when LocalTTL (or its own life) ends.
//   - KV accepts about one write per second per key. Purges of one process
//     made while its log write is in flight are batched into its next
//     write, so a process has one log write in flight at a time; a burst
//     from many processes can pass the limit, and KV then answers 429,
//     which the kv client retries. A log write that still fails is
//     returned by the purge (its durable part is done).
//   - The log keeps the purges of the last 10 minutes, at most 1,000. A
//     process whose last read is older than what the log dropped (idle for
//     ten minutes, or a flood of purges) cannot tell what it missed: it
//     empties its in-process tier and forgets its tag generations.
//
// Generations are Unix nanoseconds from each process's clock, as tag
// generations always were: the log compares them only to trim and to
// detect a gap, with a minute of slack for clock skew.

const (
	purgeLogKeep = 10 * time.Minute // how long the log keeps a purge
	purgeLogMax  = 1000             // at most this many purges in the log
	purgeSkew    = time.Minute      // slack for clocks and KV latency when detecting a gap
	tagRecheck   = time.Minute      // a tag's generation is read again at least this often
)

// purgeRec is one purge in the log: a URL's base key or a tag.
type purgeRec struct {
	G int64  `json:"g"`           // generation (writer's Unix ns)
	I string `json:"i"`           // the writing ResponseCache
	U string `json:"u,omitempty"` // base key purged
	T string `json:"t,omitempty"` // tag purged
}

func (p purgeRec) id() string { return strconv.FormatInt(p.G, 36) + "|" + p.I + "|" + p.U + "|" + p.T }

// purgeLogRec is the KV record.
type purgeLogRec struct {
	P []purgeRec `json:"p"`
	X int64      `json:"x,omitempty"` // newest generation dropped from P
}

// purgeState is a ResponseCache's side of the purge log.
type purgeState struct {
	id       string       // this cache's name in the log
	nextPoll atomic.Int64 // Unix ns of the next read; 0: never read

	pollMu   sync.Mutex // held by the one poll running
	polled   bool
	lastPoll int64           // Unix ns of the last successful read
	seen     map[string]bool // ids of the purges in the log at the last read

	wmu     sync.Mutex
	pending *purgeBatch // purges waiting for the next log write
	writing bool        // a log write is in flight
}

type purgeBatch struct {
	recs []purgeRec
	done chan struct{}
	err  error
}

func newPurgeID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (c *ResponseCache) purgeLogKey() string { return kvKeyFor(c.o.Prefix, "!purges") }

// pollPurges reads the purge log when PurgeBound has passed since the last
// read, and applies the purges made by other processes since.
func (c *ResponseCache) pollPurges(ctx context.Context) {
	if c.o.PurgeBound < 0 {
		return
	}
	p := &c.purge
	now := c.now().UnixNano()
	if now < p.nextPoll.Load() || !p.pollMu.TryLock() {
		return
	}
	defer p.pollMu.Unlock()
	if now < p.nextPoll.Load() {
		return // read by another request meanwhile
	}
	p.nextPoll.Store(now + int64(c.o.PurgeBound)) // on failure too: no storm of reads while KV is down
	full := c.purgeLogKey()
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.KVTimeout)
	it, found, err := c.ns.Get(kctx, full, kv.GetOptions{})
	cancel()
	if err != nil {
		c.stats.kvErrors.Add(1)
		c.log.error("kv-get", "cache: KV read of the purge log failed; other processes' purges show later", err, full)
		return
	}
	var rec purgeLogRec
	if found {
		if err := json.Unmarshal(it.Value, &rec); err != nil {
			c.log.error("decode", "cache: ignoring a malformed purge log", err, full)
			rec = purgeLogRec{X: now} // cannot tell what it held: as if everything was dropped
		}
	}
	seen := make(map[string]bool, len(rec.P))
	for _, r := range rec.P {
		seen[r.id()] = true
	}
	switch {
	case !p.polled:
		// The first read: nothing in memory predates it (Serve reads the log
		// before it serves), so there is nothing to drop.
	case rec.X > p.lastPoll-int64(purgeSkew):
		// The log dropped purges that may be newer than the last read.
		c.local.Clear()
		c.tagGens.Clear()
	default:
		for _, r := range rec.P {
			if r.I != p.id && !p.seen[r.id()] {
				c.applyPurge(r)
			}
		}
	}
	p.polled, p.lastPoll, p.seen = true, now, seen
}

// applyPurge applies another process's purge to this one.
func (c *ResponseCache) applyPurge(r purgeRec) {
	if r.U != "" {
		c.mu.Lock()
		c.purged.Set(r.U, c.nextGen(), 2*max(c.o.RefreshTimeout, time.Minute)) // renders started before now are not stored
		c.mu.Unlock()
		c.local.Delete(r.U)
	}
	if r.T != "" {
		if g, ok := c.tagGens.Get(r.T); !ok || g < r.G {
			c.tagGens.Set(r.T, r.G, tagRecheck)
		}
	}
}

// logPurges appends recs to the purge log. Purges made while a log write
// is in flight wait for the next write, which carries all of them.
func (c *ResponseCache) logPurges(ctx context.Context, recs ...purgeRec) error {
	if c.o.PurgeBound < 0 {
		return nil
	}
	p := &c.purge
	for i := range recs {
		recs[i].I = p.id
	}
	p.wmu.Lock()
	if p.pending == nil {
		p.pending = &purgeBatch{done: make(chan struct{})}
	}
	mine := p.pending
	mine.recs = append(mine.recs, recs...)
	if p.writing {
		p.wmu.Unlock()
		select {
		case <-mine.done:
			return mine.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.writing = true
	for {
		b := p.pending
		p.pending = nil
		p.wmu.Unlock()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.RefreshTimeout)
		b.err = c.writePurgeLog(wctx, b.recs)
		cancel()
		close(b.done)
		p.wmu.Lock()
		if p.pending == nil {
			p.writing = false
			p.wmu.Unlock()
			return mine.err
		}
	}
}

// writePurgeLog reads the log, drops what is too old or too many, appends
// recs and writes it back: one KV read and one KV write.
func (c *ResponseCache) writePurgeLog(ctx context.Context, recs []purgeRec) error {
	full := c.purgeLogKey()
	var rec purgeLogRec
	now := c.now()
	it, found, err := c.ns.Get(ctx, full, kv.GetOptions{})
	switch {
	case err != nil:
		return err
	case found:
		if json.Unmarshal(it.Value, &rec) != nil {
			rec = purgeLogRec{X: now.UnixNano()} // readers will start over
		}
	}
	oldest := now.Add(-purgeLogKeep).UnixNano()
	keep := rec.P[:0]
	for _, r := range rec.P {
		if r.G < oldest {
			rec.X = max(rec.X, r.G)
			continue
		}
		keep = append(keep, r)
	}
	keep = append(keep, recs...)
	if n := len(keep) - purgeLogMax; n > 0 {
		for _, r := range keep[:n] {
			rec.X = max(rec.X, r.G)
		}
		keep = keep[n:]
	}
	rec.P = keep
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return c.ns.Put(ctx, full, b, kv.PutOptions{TTL: purgeLogKeep + purgeSkew})
}
