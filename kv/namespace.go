package kv

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// Namespace is the byte-level binding to one Workers KV namespace: the
// smallest interface every backend implements. All methods are safe for
// concurrent use and honour ctx.
//
// A missing key is not an error: Get reports found == false. Backends
// validate their input with [ValidatePut], [ValidateKey] and friends before
// doing any work, and return errors that wrap this package's sentinels.
type Namespace interface {
	// Get reads one key. The entry's Key is key. With opts.WithMetadata its
	// Metadata is filled too; without it a backend may leave Metadata nil to
	// save a request. Expiration is filled whenever the backend knows it.
	Get(ctx context.Context, key string, opts GetOptions) (entry Entry[[]byte], found bool, err error)
	// Put writes value under key, replacing value, expiration and metadata
	// together. A rejected put stores nothing.
	Put(ctx context.Context, key string, value []byte, opts PutOptions) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns one page of keys in UTF-8 byte order.
	// opts.Prefix is literal (at most MaxKeySize bytes) and opts.Limit is
	// 1..MaxListLimit (0 means MaxListLimit). A cursor the backend never
	// issued either fails with ErrInvalidCursor or starts the listing over;
	// it never skips keys.
	List(ctx context.Context, opts ListOptions) (Page, error)
}

// BulkNamespace is implemented by backends with bulk endpoints (the REST API
// has them). Store uses it when present and falls back to bounded parallel
// single calls otherwise.
type BulkNamespace interface {
	Namespace
	// GetBulk reads 1..MaxBulkGet keys in one call. Missing keys are absent
	// from the map. Duplicates are merged.
	GetBulk(ctx context.Context, keys []string, opts GetOptions) (map[string]Entry[[]byte], error)
	// PutBulk writes 1..MaxBulkWrite pairs in one call. Invalid input
	// rejects the whole call before anything is written; a backend failure for
	// some keys is a *BulkError naming them.
	PutBulk(ctx context.Context, pairs []Pair) error
	// DeleteBulk deletes 1..MaxBulkWrite keys in one call.
	DeleteBulk(ctx context.Context, keys []string) error
}

// StreamNamespace is implemented by backends that can read and write values
// as streams (the REST API can). Store falls back to buffering otherwise.
type StreamNamespace interface {
	Namespace
	// GetStream opens the value of key. The caller must close the reader.
	GetStream(ctx context.Context, key string) (r io.ReadCloser, found bool, err error)
	// PutStream writes the value read from r (at most MaxValueSize bytes).
	PutStream(ctx context.Context, key string, r io.Reader, opts PutOptions) error
}

// GetOptions tunes a read.
type GetOptions struct {
	// WithMetadata asks for the key's metadata as well as its value.
	WithMetadata bool
	// EdgeCacheTTL is the binding's cacheTtl: how long Cloudflare's edge
	// may serve this read from its cache before asking KV's central store
	// again. Whole seconds, at least MinEdgeCacheTTL; 0 sends none (KV's
	// default, 60 s). Only a backend that reads through a Worker's binding
	// has an edge cache (kv/worker); the others (kv/memory, kv/cloudflare:
	// the REST API has no cacheTtl) ignore it. It is unrelated to
	// Options.CacheTTL, the Store's in-process read cache.
	EdgeCacheTTL time.Duration
}

// PutOptions tunes a write. When both TTL and Expiration are set, the TTL wins
// and Expiration is ignored, as in KV.
type PutOptions struct {
	TTL        time.Duration   // whole seconds, >= MinTTL; 0 = none
	Expiration time.Time       // absolute; zero = none
	Metadata   json.RawMessage // JSON, <= MaxMetadataSize bytes; nil = none
}

// Pair is one key-value pair of a bulk write ([BulkNamespace.PutBulk]): the
// byte-level form of what [Store.PutMany] takes as PutEntry values.
type Pair struct {
	Key   string
	Value []byte
	PutOptions
}
