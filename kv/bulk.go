package kv

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// GetMany reads keys and returns the values found, by key (without prefix).
// Keys answered by the read cache cost nothing; the rest cost one bulk call
// per MaxBulkGet keys on a backend with bulk endpoints, else one call each,
// Concurrency at a time. Any invalid key fails the whole call before any
// request; a value that cannot be decoded fails it with ErrCodec and a nil
// map, never a partial one.
func (s *Store[T]) GetMany(ctx context.Context, keys []string, opts ...ReadOption) (map[string]T, error) {
	rc := s.readConfig(opts)
	if err := rc.validate(); err != nil {
		return nil, &Error{Op: "get-many", Err: err}
	}
	for _, k := range keys {
		if err := validatePrefixed(s.prefix, k); err != nil {
			return nil, &Error{Op: "get-many", Key: s.prefix + k, Err: err}
		}
	}
	out := make(map[string]T, len(keys))
	var todo []string
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		if s.cache != nil && !rc.noCache {
			if c, ok := s.cache.Get(k); ok {
				if c.found {
					out[k] = c.v
				}
				continue
			}
		}
		todo = append(todo, k)
	}
	if len(todo) == 0 {
		return out, nil
	}

	var mu sync.Mutex
	keep := func(k string, gen uint64, it Entry[[]byte], found bool) error {
		c := cached[T]{found: found}
		if found {
			if err := s.codec.Unmarshal(it.Value, &c.v); err != nil {
				return &Error{Op: "get-many", Key: s.prefix + k, Err: errors.Join(ErrCodec, err)}
			}
			c.exp = it.Expiration
		}
		s.remember(k, gen, c, rc.cacheTTL)
		if found {
			mu.Lock()
			out[k] = c.v
			mu.Unlock()
		}
		return nil
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.par)
	if s.bulk != nil {
		for chunk := range slices.Chunk(todo, MaxBulkGet) {
			g.Go(func() error {
				gens := s.gens4(chunk)
				full := make([]string, len(chunk))
				for i, k := range chunk {
					full[i] = s.prefix + k
				}
				items, err := s.bulk.GetBulk(gctx, full, GetOptions{EdgeCacheTTL: rc.edgeTTL})
				if err != nil {
					return wrap("get-many", "", err)
				}
				for i, k := range chunk {
					it, found := items[full[i]]
					if err := keep(k, gens[i], it, found); err != nil {
						return err
					}
				}
				return nil
			})
		}
	} else {
		for _, k := range todo {
			g.Go(func() error {
				var gen uint64
				if s.cache != nil {
					gen = s.stripe(k).gen.Load()
				}
				it, found, err := s.ns.Get(gctx, s.prefix+k, GetOptions{EdgeCacheTTL: rc.edgeTTL})
				if err != nil {
					return wrap("get-many", s.prefix+k, err)
				}
				return keep(k, gen, it, found)
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// gens4 snapshots the cache generations of keys before a bulk read.
func (s *Store[T]) gens4(keys []string) []uint64 {
	gens := make([]uint64, len(keys))
	if s.cache != nil {
		for i, k := range keys {
			gens[i] = s.stripe(k).gen.Load()
		}
	}
	return gens
}

// PutEntry is one write of PutMany. When neither TTL nor Expiration is set
// the Store's DefaultTTL applies (unless NoExpiration).
type PutEntry[T any] struct {
	Key          string
	Value        T
	TTL          time.Duration
	Expiration   time.Time
	NoExpiration bool
	Metadata     any
}

// PutMany writes entries: one bulk call per MaxBulkWrite entries on a backend
// with bulk endpoints, else one call each, Concurrency at a time. Every entry
// is validated and encoded first; one bad entry fails the call before any
// request. When the backend fails for some keys, the error is a *BulkError
// listing them (without prefix); the others were written.
func (s *Store[T]) PutMany(ctx context.Context, entries []PutEntry[T]) error {
	now := s.now()
	batch := make([]Pair, len(entries))
	for i, e := range entries {
		full := s.prefix + e.Key
		if err := validatePrefixed(s.prefix, e.Key); err != nil {
			return &Error{Op: "put-many", Key: full, Err: err}
		}
		po, err := s.resolve(e.TTL, e.TTL != 0, e.Expiration, e.NoExpiration, e.Metadata, e.Metadata != nil, now)
		if err != nil {
			return &Error{Op: "put-many", Key: full, Err: err}
		}
		data, err := s.codec.Marshal(e.Value)
		if err != nil {
			return &Error{Op: "put-many", Key: full, Err: errors.Join(ErrCodec, err)}
		}
		if err := ValidateValue(len(data)); err != nil {
			return &Error{Op: "put-many", Key: full, Err: err}
		}
		batch[i] = Pair{Key: full, Value: data, PutOptions: po}
	}
	if len(batch) == 0 {
		return nil
	}
	keys := make([]string, len(batch))
	for i, e := range batch {
		keys[i] = e.Key
	}
	return s.writeMany(ctx, "put-many", keys,
		func(ctx context.Context, lo, hi int) error { return s.bulk.PutBulk(ctx, batch[lo:hi]) },
		func(ctx context.Context, i int) error {
			return s.ns.Put(ctx, batch[i].Key, batch[i].Value, batch[i].PutOptions)
		})
}

// DeleteMany deletes keys, in bulk calls where the backend has them. Partial
// failures are a *BulkError as for PutMany.
func (s *Store[T]) DeleteMany(ctx context.Context, keys []string) error {
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = s.prefix + k
		if err := validatePrefixed(s.prefix, k); err != nil {
			return &Error{Op: "delete-many", Key: full[i], Err: err}
		}
	}
	if len(full) == 0 {
		return nil
	}
	return s.writeMany(ctx, "delete-many", full,
		func(ctx context.Context, lo, hi int) error { return s.bulk.DeleteBulk(ctx, full[lo:hi]) },
		func(ctx context.Context, i int) error { return s.ns.Delete(ctx, full[i]) })
}

// writeMany runs a bulk write in chunks (or single writes without bulk) and
// gathers the keys that failed into one *BulkError.
func (s *Store[T]) writeMany(ctx context.Context, op string, full []string,
	chunk func(ctx context.Context, lo, hi int) error, single func(ctx context.Context, i int) error) error {
	for _, k := range full {
		s.invalidate(k[len(s.prefix):])
	}
	defer func() {
		for _, k := range full {
			s.invalidate(k[len(s.prefix):])
		}
	}()

	var (
		mu     sync.Mutex
		failed []string
		first  error
	)
	fail := func(keys []string, err error) {
		mu.Lock()
		defer mu.Unlock()
		for _, k := range keys {
			failed = append(failed, k[len(s.prefix):])
		}
		if first == nil {
			first = err
		}
	}
	var g errgroup.Group
	g.SetLimit(s.par)
	if s.bulk != nil {
		for lo := 0; lo < len(full); lo += MaxBulkWrite {
			hi := min(lo+MaxBulkWrite, len(full))
			g.Go(func() error {
				err := chunk(ctx, lo, hi)
				var be *BulkError
				switch {
				case err == nil:
				case errors.As(err, &be):
					fail(be.Keys, be.Err)
				default:
					fail(full[lo:hi], err)
				}
				return nil
			})
		}
	} else {
		for i := range full {
			g.Go(func() error {
				if err := single(ctx, i); err != nil {
					fail(full[i:i+1], err)
				}
				return nil
			})
		}
	}
	_ = g.Wait()
	if len(failed) == 0 {
		return nil
	}
	slices.Sort(failed)
	if len(failed) == len(full) {
		// Nothing was written: a plain error is more useful than a list of
		// every key.
		return wrap(op, "", first)
	}
	return &BulkError{Op: op, Keys: failed, Err: first}
}
