package kvtest

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/kvkit/kvkit/kv"
)

// Counting wraps a Namespace and counts the calls made to it, by operation.
// It implements kv.BulkNamespace and kv.StreamNamespace only when the wrapped
// namespace does (wrap with NewCounting to get the right type). It can also
// fail calls on demand, to test how callers handle a backend that is down
// (FailWith) or a write whose answer was lost (FailAfterWrite).
type Counting struct {
	kv.Namespace

	gets, puts, deletes, lists      atomic.Int64
	bulkGets, bulkPuts, bulkDeletes atomic.Int64
	streamGets, streamPuts          atomic.Int64
	mu                              sync.Mutex
	fail                            error
	lost                            error
}

// NewCounting wraps ns. The result implements kv.BulkNamespace when ns does.
func NewCounting(ns kv.Namespace) *Counting { return &Counting{Namespace: ns} }

// Counts is a snapshot of the calls made.
type Counts struct {
	Get, Put, Delete, List       int64
	BulkGet, BulkPut, BulkDelete int64
	StreamGet, StreamPut         int64
}

// Reads returns the calls that read: Get, List, BulkGet, StreamGet.
func (c Counts) Reads() int64 { return c.Get + c.List + c.BulkGet + c.StreamGet }

// Writes returns the calls that write: Put, Delete and the bulk writes.
func (c Counts) Writes() int64 {
	return c.Put + c.Delete + c.BulkPut + c.BulkDelete + c.StreamPut
}

// Total returns every call.
func (c Counts) Total() int64 { return c.Reads() + c.Writes() }

// Counts returns the calls made so far.
func (c *Counting) Counts() Counts {
	return Counts{
		Get: c.gets.Load(), Put: c.puts.Load(), Delete: c.deletes.Load(), List: c.lists.Load(),
		BulkGet: c.bulkGets.Load(), BulkPut: c.bulkPuts.Load(), BulkDelete: c.bulkDeletes.Load(),
		StreamGet: c.streamGets.Load(), StreamPut: c.streamPuts.Load(),
	}
}

// Reset sets every count to zero.
func (c *Counting) Reset() {
	for _, n := range []*atomic.Int64{&c.gets, &c.puts, &c.deletes, &c.lists, &c.bulkGets, &c.bulkPuts, &c.bulkDeletes, &c.streamGets, &c.streamPuts} {
		n.Store(0)
	}
}

// FailWith makes every later call fail with err (wrapped in a *kv.Error)
// until FailWith(nil). Failed calls are still counted.
func (c *Counting) FailWith(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = err
}

// FailAfterWrite makes every later write (Put, Delete, the bulk writes,
// PutStream) reach the wrapped namespace and then fail with err (wrapped in
// a *kv.Error), until FailAfterWrite(nil): the write landed but its answer
// was lost, as when a connection drops or a timeout fires after KV applied
// it. Reads are not affected. FailWith takes precedence.
func (c *Counting) FailAfterWrite(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lost = err
}

// afterWrite returns the lost-answer error for a write that returned err.
func (c *Counting) afterWrite(op, key string, err error) error {
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost == nil {
		return nil
	}
	return &kv.Error{Op: op, Key: key, Err: c.lost}
}

func (c *Counting) failure(op, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail == nil {
		return nil
	}
	return &kv.Error{Op: op, Key: key, Err: c.fail}
}

// Get implements kv.Namespace.
func (c *Counting) Get(ctx context.Context, key string, opts kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	c.gets.Add(1)
	if err := c.failure("get", key); err != nil {
		return kv.Entry[[]byte]{}, false, err
	}
	return c.Namespace.Get(ctx, key, opts)
}

// Put implements kv.Namespace.
func (c *Counting) Put(ctx context.Context, key string, value []byte, opts kv.PutOptions) error {
	c.puts.Add(1)
	if err := c.failure("put", key); err != nil {
		return err
	}
	return c.afterWrite("put", key, c.Namespace.Put(ctx, key, value, opts))
}

// Delete implements kv.Namespace.
func (c *Counting) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	if err := c.failure("delete", key); err != nil {
		return err
	}
	return c.afterWrite("delete", key, c.Namespace.Delete(ctx, key))
}

// List implements kv.Namespace.
func (c *Counting) List(ctx context.Context, req kv.ListOptions) (kv.Page, error) {
	c.lists.Add(1)
	if err := c.failure("list", req.Prefix); err != nil {
		return kv.Page{}, err
	}
	return c.Namespace.List(ctx, req)
}

// CountingBulk is a Counting over a kv.BulkNamespace.
type CountingBulk struct{ *Counting }

// NewCountingBulk wraps a bulk-capable namespace, counting bulk calls too.
func NewCountingBulk(ns kv.BulkNamespace) *CountingBulk {
	return &CountingBulk{NewCounting(ns)}
}

// GetBulk implements kv.BulkNamespace.
func (c *CountingBulk) GetBulk(ctx context.Context, keys []string, opts kv.GetOptions) (map[string]kv.Entry[[]byte], error) {
	c.bulkGets.Add(1)
	if err := c.failure("get-bulk", ""); err != nil {
		return nil, err
	}
	return c.Namespace.(kv.BulkNamespace).GetBulk(ctx, keys, opts)
}

// PutBulk implements kv.BulkNamespace.
func (c *CountingBulk) PutBulk(ctx context.Context, entries []kv.Pair) error {
	c.bulkPuts.Add(1)
	if err := c.failure("put-bulk", ""); err != nil {
		return err
	}
	return c.afterWrite("put-bulk", "", c.Namespace.(kv.BulkNamespace).PutBulk(ctx, entries))
}

// DeleteBulk implements kv.BulkNamespace.
func (c *CountingBulk) DeleteBulk(ctx context.Context, keys []string) error {
	c.bulkDeletes.Add(1)
	if err := c.failure("delete-bulk", ""); err != nil {
		return err
	}
	return c.afterWrite("delete-bulk", "", c.Namespace.(kv.BulkNamespace).DeleteBulk(ctx, keys))
}

// GetStream implements kv.StreamNamespace when the wrapped namespace does.
func (c *CountingBulk) GetStream(ctx context.Context, key string) (io.ReadCloser, bool, error) {
	c.streamGets.Add(1)
	if err := c.failure("get", key); err != nil {
		return nil, false, err
	}
	if s, ok := c.Namespace.(kv.StreamNamespace); ok {
		return s.GetStream(ctx, key)
	}
	it, found, err := c.Namespace.Get(ctx, key, kv.GetOptions{})
	if err != nil || !found {
		return nil, found, err
	}
	return io.NopCloser(bytesReader(it.Value)), true, nil
}

// PutStream implements kv.StreamNamespace.
func (c *CountingBulk) PutStream(ctx context.Context, key string, r io.Reader, opts kv.PutOptions) error {
	c.streamPuts.Add(1)
	if err := c.failure("put", key); err != nil {
		return err
	}
	if s, ok := c.Namespace.(kv.StreamNamespace); ok {
		return c.afterWrite("put", key, s.PutStream(ctx, key, r, opts))
	}
	data, err := io.ReadAll(io.LimitReader(r, kv.MaxValueSize+1))
	if err != nil {
		return err
	}
	return c.afterWrite("put", key, c.Namespace.Put(ctx, key, data, opts))
}

var (
	_ kv.Namespace       = (*Counting)(nil)
	_ kv.BulkNamespace   = (*CountingBulk)(nil)
	_ kv.StreamNamespace = (*CountingBulk)(nil)
)
