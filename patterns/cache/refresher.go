package cache

import (
	"context"
	"sync"
	"time"
)

// refresher runs background refreshes for both caches (at most one per key
// at a time) and the response cache's KV writes (at most a limit at a
// time), each on a context that keeps its parent's values but not its
// cancellation, bounded by a timeout, and cancelled and waited for by close.
type refresher struct {
	timeout time.Duration
	base    context.Context // cancelled by close
	cancel  context.CancelFunc

	mu     sync.Mutex
	busy   map[string]struct{}
	writes int // running startWrite tasks
	closed bool
	wg     sync.WaitGroup
}

func newRefresher(timeout time.Duration) *refresher {
	base, cancel := context.WithCancel(context.Background())
	return &refresher{timeout: timeout, base: base, cancel: cancel, busy: map[string]struct{}{}}
}

// start runs fn in a new goroutine unless a refresh of key is running or
// the refresher is closed; it reports whether it started one.
func (r *refresher) start(parent context.Context, key string, fn func(ctx context.Context)) bool {
	r.mu.Lock()
	if _, busy := r.busy[key]; busy || r.closed {
		r.mu.Unlock()
		return false
	}
	r.busy[key] = struct{}{}
	r.wg.Add(1)
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), r.timeout)
	stop := context.AfterFunc(r.base, cancel)
	go func() {
		defer func() {
			stop()
			cancel()
			r.mu.Lock()
			delete(r.busy, key)
			r.mu.Unlock()
			r.wg.Done()
		}()
		fn(ctx)
	}()
	return true
}

// startWrite runs fn in a new goroutine unless limit writes are running or
// the refresher is closed; it reports whether it started it. fn gets the
// same kind of context as a refresh.
func (r *refresher) startWrite(parent context.Context, limit int, fn func(ctx context.Context)) bool {
	r.mu.Lock()
	if r.writes >= limit || r.closed {
		r.mu.Unlock()
		return false
	}
	r.writes++
	r.wg.Add(1)
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), r.timeout)
	stop := context.AfterFunc(r.base, cancel)
	go func() {
		defer func() {
			stop()
			cancel()
			r.mu.Lock()
			r.writes--
			r.mu.Unlock()
			r.wg.Done()
		}()
		fn(ctx)
	}()
	return true
}

// close stops starting refreshes, cancels the running ones and waits for
// them to end, or for ctx to be done (then it returns ctx.Err(); the
// cancelled refreshes end on their own).
func (r *refresher) close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
