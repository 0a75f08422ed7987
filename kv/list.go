package kv

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"time"
)

// ListOptions selects keys of a Store. Prefix is a sub-prefix after the
// Store's own: with a Store prefix "user:" and Prefix "active:" the listing
// covers "user:active:*" and yields names without "user:".
type ListOptions struct {
	Prefix   string // sub-prefix; "" lists the whole Store
	PageSize int    // keys per request, 1..MaxListLimit; 0 = MaxListLimit
	Cursor   string // resume after a page; "" starts at the beginning
}

// Key is one listed key of a Store.
type Key struct {
	Name       string          // without the Store's prefix
	Expiration time.Time       // zero when the key does not expire
	Metadata   json.RawMessage // nil when none
}

// DecodeMetadata decodes the key's metadata into v (a pointer). It returns
// ErrNotFound when the key has no metadata.
func (k Key) DecodeMetadata(v any) error {
	if len(k.Metadata) == 0 {
		return &Error{Op: "metadata", Key: k.Name, Err: ErrNotFound}
	}
	if err := json.Unmarshal(k.Metadata, v); err != nil {
		return &Error{Op: "metadata", Key: k.Name, Err: errors.Join(ErrCodec, err)}
	}
	return nil
}

// Page is one page of a listing. Cursor resumes after it; it is "" when
// Complete.
type Page struct {
	Keys     []Key
	Cursor   string
	Complete bool
}

// ListPage returns one page of keys, for resumable paging: pass the returned
// Cursor in the next call's options. A page may be empty and still not
// Complete (KV skips deleted and expired keys); keep going until Complete.
func (s *Store[T]) ListPage(ctx context.Context, opts ListOptions) (Page, error) {
	if opts.PageSize < 0 || opts.PageSize > MaxListLimit {
		return Page{}, &Error{Op: "list", Key: s.prefix + opts.Prefix, Err: ErrInvalidLimit}
	}
	prefix := s.prefix + opts.Prefix
	res, err := s.ns.List(ctx, ListRequest{Prefix: prefix, Limit: opts.PageSize, Cursor: opts.Cursor})
	if err != nil {
		return Page{}, wrap("list", prefix, err)
	}
	if !res.Complete && res.Cursor == "" {
		return Page{}, &Error{Op: "list", Key: prefix, Err: errors.New("backend returned an incomplete page without a cursor")}
	}
	p := Page{Keys: make([]Key, 0, len(res.Keys)), Cursor: res.Cursor, Complete: res.Complete}
	for _, k := range res.Keys {
		name, ok := StripPrefix(s.prefix, k.Name)
		if !ok {
			continue // not ours: a backend that ignores prefixes
		}
		p.Keys = append(p.Keys, Key{Name: name, Expiration: k.Expiration, Metadata: k.Metadata})
	}
	if p.Complete {
		p.Cursor = ""
	}
	return p, nil
}

// Keys returns an iterator over the Store's keys under opts.Prefix in UTF-8
// byte order, fetching pages lazily (and going on past empty pages that are
// not the last). Each run of the iterator lists afresh. If a page fails, the
// iterator yields the zero Key and the error once, then stops.
func (s *Store[T]) Keys(ctx context.Context, opts ListOptions) iter.Seq2[Key, error] {
	return func(yield func(Key, error) bool) {
		o := opts
		for {
			p, err := s.ListPage(ctx, o)
			if err != nil {
				yield(Key{}, err)
				return
			}
			for _, k := range p.Keys {
				if !yield(k, nil) {
					return
				}
			}
			if p.Complete {
				return
			}
			o.Cursor = p.Cursor
		}
	}
}

// ListAll collects every key under opts.Prefix. On error it returns the keys
// gathered so far with the error.
func (s *Store[T]) ListAll(ctx context.Context, opts ListOptions) ([]Key, error) {
	var out []Key
	for k, err := range s.Keys(ctx, opts) {
		if err != nil {
			return out, err
		}
		out = append(out, k)
	}
	return out, nil
}
