package kv

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"time"
)

// ListOptions selects one page of keys, from a Namespace or a Store.
//
// To a Namespace, Prefix is literal and case-sensitive. To a Store it is a
// sub-prefix after the Store's own: with a Store prefix "user:" and Prefix
// "active:" the listing covers "user:active:*" and yields names without
// "user:". A Prefix that is not valid UTF-8 is refused with ErrInvalidKey
// (see [ValidatePrefix]).
type ListOptions struct {
	Prefix string // "" lists everything (the whole Store)
	Limit  int    // keys per page, 1..MaxListLimit; 0 = MaxListLimit
	Cursor string // from the previous page; "" starts at the beginning
}

// KeyInfo is one listed key. From a Store, Name is without the Store's
// prefix.
type KeyInfo struct {
	Name       string
	Expiration time.Time       // zero when the key does not expire
	Metadata   json.RawMessage // nil when none
}

// DecodeMetadata decodes the key's metadata into v (a pointer). It returns
// ErrNotFound when the key has no metadata.
func (k KeyInfo) DecodeMetadata(v any) error {
	if len(k.Metadata) == 0 {
		return &Error{Op: "metadata", Key: k.Name, Err: ErrNotFound}
	}
	if err := json.Unmarshal(k.Metadata, v); err != nil {
		return &Error{Op: "metadata", Key: k.Name, Err: errors.Join(ErrCodec, err)}
	}
	return nil
}

// Page is one page of a listing, from a Namespace or a Store. A page may be
// empty and yet not Complete (KV skips deleted and expired keys): keep going
// while Complete is false. Cursor resumes after the page; it is "" when
// Complete.
type Page struct {
	Keys     []KeyInfo
	Cursor   string
	Complete bool
}

// ListPage returns one page of keys, for resumable paging: pass the returned
// Cursor in the next call's options. A page may be empty and still not
// Complete (KV skips deleted and expired keys); keep going until Complete.
func (s *Store[T]) ListPage(ctx context.Context, opts ListOptions) (Page, error) {
	if opts.Limit < 0 || opts.Limit > MaxListLimit {
		return Page{}, &Error{Op: "list", Key: s.prefix + opts.Prefix, Err: ErrInvalidLimit}
	}
	prefix := s.prefix + opts.Prefix
	if err := ValidatePrefix(opts.Prefix); err != nil {
		return Page{}, &Error{Op: "list", Key: prefix, Err: err}
	}
	res, err := s.ns.List(ctx, ListOptions{Prefix: prefix, Limit: opts.Limit, Cursor: opts.Cursor})
	if err != nil {
		return Page{}, wrap("list", prefix, err)
	}
	if !res.Complete && res.Cursor == "" {
		return Page{}, &Error{Op: "list", Key: prefix, Err: errors.New("backend returned an incomplete page without a cursor")}
	}
	p := Page{Keys: res.Keys[:0], Cursor: res.Cursor, Complete: res.Complete}
	for _, k := range res.Keys {
		name, ok := StripPrefix(s.prefix, k.Name)
		if !ok {
			continue // not ours: a backend that ignores prefixes
		}
		k.Name = name
		p.Keys = append(p.Keys, k)
	}
	if p.Complete {
		p.Cursor = ""
	}
	return p, nil
}

// Keys returns an iterator over the Store's keys under opts.Prefix in UTF-8
// byte order, fetching pages lazily (and going on past empty pages that are
// not the last). Each run of the iterator lists afresh. If a page fails, the
// iterator yields the zero KeyInfo and the error once, then stops.
func (s *Store[T]) Keys(ctx context.Context, opts ListOptions) iter.Seq2[KeyInfo, error] {
	return func(yield func(KeyInfo, error) bool) {
		o := opts
		for {
			p, err := s.ListPage(ctx, o)
			if err != nil {
				yield(KeyInfo{}, err)
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
func (s *Store[T]) ListAll(ctx context.Context, opts ListOptions) ([]KeyInfo, error) {
	var out []KeyInfo
	for k, err := range s.Keys(ctx, opts) {
		if err != nil {
			return out, err
		}
		out = append(out, k)
	}
	return out, nil
}
