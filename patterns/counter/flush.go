package counter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kvkit/kvkit/kv"
)

// run is the flusher: on every tick it writes the keys that are due, as of
// the tick's time when tickTime (Options.Tick), else as of Clock. On
// Options.Tick a zero time flushes nothing: receiving it tells the sender
// that the flush before it has ended.
func (c *Counter) run(tick <-chan time.Time, stopTicker func(), tickTime bool) {
	defer close(c.done)
	defer stopTicker()
	for {
		select {
		case <-c.stop:
			return
		case t := <-tick:
			if tickTime && t.IsZero() {
				continue // a barrier: the flush before it has ended
			}
			now := unixNano(t)
			if !tickTime {
				now = c.now()
			}
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			if err := c.flush(ctx, false, now); err != nil {
				c.log.error("counter: flush failed, deltas kept for the next flush", "err", err)
			}
			cancel()
		}
	}
}

// Flush writes every pending delta now, whatever the time since each key's
// last write (KV may refuse a second write of one key within a second: the
// delta is then kept). A key that fails keeps its delta for the next flush;
// the error names the failure. Direct mode has nothing to flush.
func (c *Counter) Flush(ctx context.Context) error {
	if c.mode == Direct {
		return nil
	}
	return c.flush(ctx, true, c.now())
}

// Close stops the flusher and writes everything pending. Later Increments
// fail with ErrClosed. Close may be called again to retry a failed final
// flush.
func (c *Counter) Close(ctx context.Context) error {
	c.closed.Store(true)
	if !c.hasFlushr {
		return nil
	}
	c.stopOnce.Do(func() {
		close(c.stop)
		<-c.done
	})
	// Increments check closed under their entry's lock: the flush locks
	// every entry after closed is set, so an Increment that saw it unset
	// has added its delta before the flush reads it, and no Increment
	// adds one after.
	return c.flush(ctx, true, c.now())
}

type flushJob struct {
	name     string
	e        *entry
	delta    int64
	base     int64
	needRead bool
	readOnly bool // a read asked for by a request that did not wait (entry.want), nothing to write
	outcome  writeOutcome
}

// writeOutcome is what became of a flushJob's write.
type writeOutcome uint8

const (
	written          writeOutcome = iota
	writeMaybeLanded              // failed after KV may have applied it (see entry.unsure)
	writeRefused                  // certainly not applied
)

// flushWriters is how many bulk writes of one flush run at a time.
const flushWriters = 4

// flush writes the dirty keys: all of them, or only those whose last write
// ended at least one interval ago, and reads the keys that requests asked
// for without waiting (entry.want), in the same bulk read. Clean keys unused
// for KeepIdle are dropped on the way. now is the time the flush decides
// by: the tick's, or the Clock's.
func (c *Counter) flush(ctx context.Context, all bool, now int64) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	var errs []error
	called := false
	closing := c.closed.Load() // nobody will use a read any more
	if c.mode == Sharded && !closing {
		// A shard sum is a listing, which cannot be batched: one per
		// wanted counter, still off the request path.
		for _, name := range c.wanted(now) {
			called = true
			if err := c.load(ctx, name); err != nil {
				errs = append(errs, err)
			}
		}
	}

	var jobs []flushJob
	evicted := false
	for name, e := range c.idx.snapshot() {
		e.mu.Lock()
		switch {
		case e.dead.Load():
		case e.pending == 0 && !e.unsure:
			if e.want && c.mode != Sharded && !closing && now >= e.failUntil {
				jobs = append(jobs, flushJob{name: name, e: e, needRead: true, readOnly: true})
			} else if time.Duration(now-e.usedAt) >= c.keepIdle {
				e.dead.Store(true)
				evicted = true
			}
		case !all && e.wroteAt != 0 && time.Duration(now-e.wroteAt) < c.interval:
		default:
			// Coalesced: read before writing unless the stored value was
			// read or written within the interval. Sharded and
			// SingleWriter: this process is the key's only writer, so only
			// an unknown key is read. After a write that may have landed,
			// never: it is repeated as it was (see entry.unsure).
			need := !e.unsure && (!e.known || (c.mode == Coalesced && !c.single && time.Duration(now-e.syncedAt) >= c.interval))
			jobs = append(jobs, flushJob{name: name, e: e, delta: e.pending, base: e.stored, needRead: need})
		}
		e.mu.Unlock()
	}
	if evicted {
		c.idx.prune()
	}
	if len(jobs) == 0 {
		c.noteSync(called, errs)
		return errors.Join(errs...)
	}
	called = true

	var reads []string
	for _, j := range jobs {
		if j.needRead {
			reads = append(reads, c.key(j.name))
		}
	}
	if len(reads) > 0 {
		vals, err := c.store.GetMany(ctx, reads)
		if err != nil {
			errs = append(errs, err)
			c.readFailed(jobs, err)
			jobs = dropReads(jobs)
		} else {
			for i := range jobs {
				if jobs[i].needRead {
					jobs[i].base = vals[c.key(jobs[i].name)] // missing: 0
				}
			}
			c.readDone(jobs, now)
			jobs = dropReadOnly(jobs)
		}
	}
	if len(jobs) == 0 {
		c.noteSync(called, errs)
		return errors.Join(errs...)
	}

	// One bulk write per kv.MaxBulkWrite keys, each judged on its own
	// error: a chunk refused keeps its deltas to be read and added again, a
	// chunk that may have landed repeats its values, whatever the others did.
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(flushWriters)
	for lo := 0; lo < len(jobs); lo += kv.MaxBulkWrite {
		chunk := jobs[lo:min(lo+kv.MaxBulkWrite, len(jobs))]
		g.Go(func() error {
			entries := make([]kv.PutEntry[int64], len(chunk))
			for i, j := range chunk {
				entries[i] = kv.PutEntry[int64]{Key: c.key(j.name), Value: j.base + j.delta}
				if c.mode == Sharded {
					entries[i].Metadata = shardMetaJSON(j.base + j.delta)
				}
			}
			err := c.store.PutMany(ctx, entries)
			if err == nil {
				return nil
			}
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			outcome := writeMaybeLanded
			if refused(err) {
				outcome = writeRefused
			}
			var be *kv.BulkError
			if !errors.As(err, &be) {
				for i := range chunk {
					chunk[i].outcome = outcome
				}
				return nil
			}
			failed := make(map[string]bool, len(be.Keys))
			for _, k := range be.Keys {
				failed[k] = true
			}
			for i := range chunk {
				if failed[c.key(chunk[i].name)] {
					chunk[i].outcome = outcome
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	end := c.now()
	for _, j := range jobs {
		j.e.mu.Lock()
		switch j.outcome {
		case written:
			j.e.stored, j.e.known, j.e.syncedAt, j.e.wroteAt = j.base+j.delta, true, end, end
			j.e.pending -= j.delta
			j.e.unsure, j.e.want = false, false
			j.e.gen++
		case writeMaybeLanded:
			// The delta stays pending, and the next write repeats this
			// one's base instead of reading what may be this write.
			j.e.stored, j.e.known, j.e.unsure = j.base, true, true
		default:
			// Refused: nothing landed, the delta stays pending.
		}
		j.e.mu.Unlock()
	}
	c.noteSync(called, errs)
	return errors.Join(errs...)
}

// wanted returns the counters whose read a request asked for without
// waiting, and that are not backing off after a failed read.
func (c *Counter) wanted(now int64) []string {
	var names []string
	for name, e := range c.idx.snapshot() {
		e.mu.Lock()
		if e.want && !e.dead.Load() && now >= e.failUntil {
			names = append(names, name)
		}
		e.mu.Unlock()
	}
	return names
}

// readFailed records a failed bulk read on the entries it was for: no read
// of them before an interval has passed, and requests see the error.
func (c *Counter) readFailed(jobs []flushJob, err error) {
	until := c.now() + int64(c.interval)
	for _, j := range jobs {
		if !j.needRead {
			continue
		}
		j.e.mu.Lock()
		j.e.failUntil, j.e.lastErr = until, err
		j.e.mu.Unlock()
	}
	c.log.error("counter: read failed", "keys", len(jobs), "err", err)
}

// readDone records the values read for the read-only jobs, started at
// start, unless something newer is known.
func (c *Counter) readDone(jobs []flushJob, start int64) {
	for _, j := range jobs {
		if !j.needRead {
			continue
		}
		j.e.mu.Lock()
		j.e.failUntil, j.e.lastErr = 0, nil
		if j.readOnly {
			j.e.want = false
			if !j.e.unsure && j.e.pending == 0 && (!j.e.known || j.e.syncedAt < start) {
				j.e.stored, j.e.known, j.e.syncedAt = j.base, true, start
			}
		}
		j.e.mu.Unlock()
	}
}

// noteSync remembers whether this flush's KV calls failed, for requests on
// keys they could not sync (addOptions.deferRead).
func (c *Counter) noteSync(called bool, errs []error) {
	if !called {
		return
	}
	if len(errs) == 0 {
		c.syncErr.Store(nil)
		return
	}
	err := errors.Join(errs...)
	c.syncErr.Store(&err)
}

func dropReads(jobs []flushJob) []flushJob {
	out := jobs[:0]
	for _, j := range jobs {
		if !j.needRead {
			out = append(out, j)
		}
	}
	return out
}

func dropReadOnly(jobs []flushJob) []flushJob {
	out := jobs[:0]
	for _, j := range jobs {
		if !j.readOnly {
			out = append(out, j)
		}
	}
	return out
}

func shardMetaJSON(n int64) json.RawMessage {
	b := make([]byte, 0, 32)
	b = append(b, `{"n":`...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '}')
}

// refused reports a write error after which the write certainly did not
// land: KV answered 429 (too many writes to the key) or 401/403, or the
// input was refused before any call. A transport error, a timeout, a 5xx
// or anything unknown may come after KV applied the write. A *kv.BulkError
// is judged by its cause: the flush writes one chunk of at most
// kv.MaxBulkWrite keys per call, so that cause is its chunk's error (over
// a namespace without bulk writes, the first failed key's).
func refused(err error) bool {
	for _, s := range []error{kv.ErrRateLimited, kv.ErrUnauthorized, kv.ErrInvalidKey, kv.ErrInvalidTTL,
		kv.ErrInvalidExpiration, kv.ErrValueTooLarge, kv.ErrMetadataTooLarge, kv.ErrInvalidMetadata,
		kv.ErrInvalidBatch, kv.ErrCodec} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// throttledLog logs errors at most once per every, counting the records it
// left out, so that a backend outage does not flood the log.
type throttledLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (t *throttledLog) error(msg string, args ...any) {
	t.mu.Lock()
	now := t.now()
	if !t.last.IsZero() && now.Sub(t.last) < t.every {
		t.suppressed++
		t.mu.Unlock()
		return
	}
	n := t.suppressed
	t.last, t.suppressed = now, 0
	t.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	t.log.Error(msg, args...)
}
