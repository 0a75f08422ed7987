package counter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/kvkit/kvkit/kv"
)

// run is the flusher: on every tick it writes the keys that are due.
func (c *Counter) run(tick <-chan time.Time, stopTicker func()) {
	defer close(c.done)
	defer stopTicker()
	for {
		select {
		case <-c.stop:
			return
		case <-tick:
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			if err := c.flush(ctx, false); err != nil {
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
	return c.flush(ctx, true)
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
	// Increments check closed under their stripe's lock: once every stripe
	// has been locked, no Increment can add to pending any more.
	for i := range c.stripes {
		c.stripes[i].mu.Lock()
		c.stripes[i].mu.Unlock() //nolint:staticcheck // a barrier, not a critical section
	}
	return c.flush(ctx, true)
}

type flushJob struct {
	name     string
	e        *entry
	delta    int64
	base     int64
	needRead bool
}

// flush writes the dirty keys: all of them, or only those whose last write
// ended at least one interval ago. Clean keys unused for KeepIdle are
// dropped on the way.
func (c *Counter) flush(ctx context.Context, all bool) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	now := c.now()

	var jobs []flushJob
	for i := range c.stripes {
		s := &c.stripes[i]
		s.mu.Lock()
		for name, e := range s.m {
			if e.pending == 0 {
				if now.Sub(e.usedAt) >= c.keepIdle {
					delete(s.m, name)
				}
				continue
			}
			if !all && !e.wroteAt.IsZero() && now.Sub(e.wroteAt) < c.interval {
				continue
			}
			// Coalesced: read before writing unless the stored value was
			// read or written within the interval. Sharded and
			// SingleWriter: this process is the key's only writer, so only
			// an unknown key is read.
			need := !e.known || (c.mode == Coalesced && !c.single && now.Sub(e.syncedAt) >= c.interval)
			jobs = append(jobs, flushJob{name: name, e: e, delta: e.pending, base: e.stored, needRead: need})
		}
		s.mu.Unlock()
	}
	if len(jobs) == 0 {
		return nil
	}

	var errs []error
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
			jobs = dropReads(jobs)
		} else {
			for i := range jobs {
				if jobs[i].needRead {
					jobs[i].base = vals[c.key(jobs[i].name)] // missing: 0
				}
			}
		}
	}
	if len(jobs) == 0 {
		return errors.Join(errs...)
	}

	entries := make([]kv.PutEntry[int64], len(jobs))
	for i, j := range jobs {
		entries[i] = kv.PutEntry[int64]{Key: c.key(j.name), Value: j.base + j.delta}
		if c.mode == Sharded {
			entries[i].Metadata = shardMetaJSON(j.base + j.delta)
		}
	}
	failed := map[string]bool{}
	if err := c.store.PutMany(ctx, entries); err != nil {
		errs = append(errs, err)
		var be *kv.BulkError
		if errors.As(err, &be) {
			for _, k := range be.Keys {
				failed[k] = true
			}
		} else {
			for _, e := range entries {
				failed[e.Key] = true
			}
		}
	}
	end := c.now()
	for _, j := range jobs {
		if failed[c.key(j.name)] {
			continue // the delta stays pending
		}
		s := c.stripe(j.name)
		s.mu.Lock()
		j.e.stored, j.e.known, j.e.syncedAt, j.e.wroteAt = j.base+j.delta, true, end, end
		j.e.pending -= j.delta
		j.e.gen++
		s.mu.Unlock()
	}
	return errors.Join(errs...)
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

func shardMetaJSON(n int64) json.RawMessage {
	b := make([]byte, 0, 32)
	b = append(b, `{"n":`...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '}')
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
