// Package memory is kvkit's embedded backend: an in-process [kv.Namespace]
// that enforces the limits and semantics of real Workers KV (key bytes,
// value and metadata sizes, TTL and expiration rules, expiry at
// now >= expiration, UTF-8 byte-order listing with opaque cursors, bulk
// limits). It is safe for concurrent use and starts no goroutines.
//
// Cursors are signed with a key of the namespace's own, so a cursor it never
// issued (made up, altered, or from another namespace or process) fails
// with kv.ErrInvalidCursor instead of silently resuming somewhere.
//
// What it does not simulate: eventual consistency across locations, the
// one-write-per-second-per-key limit, and the REST API's request budget.
package memory

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/kvkit/kvkit/kv"
)

// Options configures a Namespace. The zero value is ready to use.
type Options struct {
	// Clock returns the current time. Optional. Default: time.Now. Tests
	// inject a fake clock to check expirations without sleeping.
	Clock func() time.Time
}

// Namespace is an in-memory Workers KV namespace.
type Namespace struct {
	now       func() time.Time
	cursorKey [16]byte // signs list cursors

	mu       sync.RWMutex
	byName   map[string]item         // every stored entry, for point lookups
	byKey    *btree.BTreeG[string]   // the same keys in UTF-8 byte order, for listing
	byExpiry *btree.BTreeG[expiring] // keys that expire, by (expiration, key)
}

// item is one stored entry, held in its map slot itself: a point lookup
// reads the slot, then one allocation that starts with the key (which the
// lookup compares) and goes on with the value and the metadata (which Get
// copies), and nothing else. The map's key and the expiry tree's are that
// allocation's first bytes, and every write replaces them.
//
// The key tree is not walked on an overwrite (at 100k keys that walk made
// a bulk overwrite 2.5 times slower): its key stays the one of an earlier
// allocation, which it keeps alive. So that this costs little memory, the
// tree is moved to the new key when the allocation it holds is large
// (keyTreeHere and more than smallEntry bytes of value and metadata): what
// it keeps of a replaced entry is at most the key and smallEntry bytes.
type item struct {
	data        string // the value, then the metadata: the allocation after the key
	vlen        int32  // the value's length in data
	keyTreeHere bool   // the key tree holds this allocation's key
	expires     int64  // Unix seconds; 0 = never
}

// smallEntry bounds what the key tree may keep alive of a replaced entry
// (see item).
const smallEntry = 256

func (it *item) value() string { return it.data[:it.vlen] }
func (it *item) meta() string  { return it.data[it.vlen:] }
func (it *item) hasMeta() bool { return int(it.vlen) < len(it.data) }

// expiring is an entry of the expiry tree.
type expiring struct {
	at  int64 // the entry's expires
	key string
}

var (
	_ kv.Namespace       = (*Namespace)(nil)
	_ kv.BulkNamespace   = (*Namespace)(nil)
	_ kv.StreamNamespace = (*Namespace)(nil)
)

// New returns an empty namespace.
func New(opts Options) *Namespace {
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	n := &Namespace{
		now:    now,
		byName: make(map[string]item),
		byKey:  btree.NewOrderedG[string](32),
		byExpiry: btree.NewG(32, func(a, b expiring) bool {
			if a.at != b.at {
				return a.at < b.at
			}
			return a.key < b.key
		}),
	}
	_, _ = rand.Read(n.cursorKey[:]) // never fails (crypto/rand docs)
	return n
}

func (it *item) expired(now int64) bool { return it.expires != 0 && now >= it.expires }

func (it *item) toEntry(key string, withMeta bool) kv.Entry[[]byte] {
	e := kv.Entry[[]byte]{Key: key, Value: []byte(it.value())}
	if e.Value == nil {
		e.Value = []byte{}
	}
	if withMeta && it.hasMeta() {
		e.Metadata = json.RawMessage(it.meta())
	}
	if it.expires != 0 {
		e.Expiration = time.Unix(it.expires, 0)
	}
	return e
}

// Get implements kv.Namespace.
func (n *Namespace) Get(ctx context.Context, key string, opts kv.GetOptions) (kv.Entry[[]byte], bool, error) {
	if err := ctx.Err(); err != nil {
		return kv.Entry[[]byte]{}, false, &kv.Error{Op: "get", Key: key, Err: err}
	}
	if err := kv.ValidateKey(key); err != nil {
		return kv.Entry[[]byte]{}, false, &kv.Error{Op: "get", Key: key, Err: err}
	}
	now := n.now().Unix()
	n.mu.RLock()
	defer n.mu.RUnlock()
	it, ok := n.byName[key]
	if !ok || it.expired(now) {
		return kv.Entry[[]byte]{}, false, nil
	}
	return it.toEntry(key, opts.WithMetadata), true, nil
}

// GetStream implements kv.StreamNamespace.
func (n *Namespace) GetStream(ctx context.Context, key string) (io.ReadCloser, bool, error) {
	it, found, err := n.Get(ctx, key, kv.GetOptions{})
	if err != nil || !found {
		return nil, found, err
	}
	return io.NopCloser(bytes.NewReader(it.Value)), true, nil
}

// Put implements kv.Namespace.
func (n *Namespace) Put(ctx context.Context, key string, value []byte, opts kv.PutOptions) error {
	if err := ctx.Err(); err != nil {
		return &kv.Error{Op: "put", Key: key, Err: err}
	}
	now := n.now()
	if err := kv.ValidatePut(key, len(value), opts, now); err != nil {
		return &kv.Error{Op: "put", Key: key, Err: err}
	}
	k, it := newEntry(key, value, opts.Metadata, expiresAt(opts, now))
	n.mu.Lock()
	defer n.mu.Unlock()
	n.store(k, it, now.Unix())
	return nil
}

// PutStream implements kv.StreamNamespace.
func (n *Namespace) PutStream(ctx context.Context, key string, r io.Reader, opts kv.PutOptions) error {
	if err := kv.ValidateKey(key); err != nil {
		return &kv.Error{Op: "put", Key: key, Err: err}
	}
	value, err := io.ReadAll(io.LimitReader(r, kv.MaxValueSize+1))
	if err != nil {
		return &kv.Error{Op: "put", Key: key, Err: err}
	}
	return n.Put(ctx, key, value, opts)
}

// expiresAt returns the expiration of a write made at now with opts, in
// Unix seconds (0: never).
func expiresAt(opts kv.PutOptions, now time.Time) int64 {
	if exp := opts.ExpiresAt(now); !exp.IsZero() {
		return exp.Unix()
	}
	return 0
}

// newEntry copies key, value and metadata (none when empty or null) into
// one allocation and returns the key to index it by and its item.
func newEntry(key string, value, meta []byte, expires int64) (string, item) {
	if bytes.Equal(meta, []byte("null")) {
		meta = nil
	}
	var b strings.Builder
	b.Grow(len(key) + len(value) + len(meta))
	b.WriteString(key)
	b.Write(value)
	b.Write(meta)
	all := b.String()
	return all[:len(key)], item{data: all[len(key):], vlen: int32(len(value)), expires: expires}
}

// store replaces key's entry with it and drops entries that have expired.
// n.mu must be held for writing. key is the one newEntry returned: the map
// (which takes the key of an assignment as its own) and the expiry tree
// then hold it, never a key of the entry it replaces; the key tree too,
// for a new key or when the entry it held is large (see item).
func (n *Namespace) store(key string, it item, now int64) {
	old, ok := n.byName[key]
	if ok && old.expires != 0 {
		n.byExpiry.Delete(expiring{old.expires, key})
	}
	if !ok || (old.keyTreeHere && len(old.data) > smallEntry) {
		n.byKey.ReplaceOrInsert(key)
		it.keyTreeHere = true
	}
	n.byName[key] = it
	if it.expires != 0 {
		n.byExpiry.ReplaceOrInsert(expiring{it.expires, key})
	}
	n.sweep(now)
}

// sweep removes expired entries, oldest first. Amortised O(log n) per write.
func (n *Namespace) sweep(now int64) {
	for {
		x, ok := n.byExpiry.Min()
		if !ok || now < x.at {
			return
		}
		n.byExpiry.DeleteMin()
		n.byKey.Delete(x.key)
		delete(n.byName, x.key)
	}
}

// Delete implements kv.Namespace.
func (n *Namespace) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return &kv.Error{Op: "delete", Key: key, Err: err}
	}
	if err := kv.ValidateKey(key); err != nil {
		return &kv.Error{Op: "delete", Key: key, Err: err}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.remove(key)
	n.sweep(n.now().Unix())
	return nil
}

func (n *Namespace) remove(key string) {
	old, ok := n.byName[key]
	if !ok {
		return
	}
	delete(n.byName, key)
	n.byKey.Delete(key)
	if old.expires != 0 {
		n.byExpiry.Delete(expiring{old.expires, key})
	}
}

// List implements kv.Namespace. The prefix is at most kv.MaxKeySize bytes
// (kv.ErrInvalidKey otherwise, as the binding answers 414). Cursors are
// opaque; one this namespace did not issue fails with kv.ErrInvalidCursor.
func (n *Namespace) List(ctx context.Context, opts kv.ListOptions) (kv.Page, error) {
	if err := ctx.Err(); err != nil {
		return kv.Page{}, &kv.Error{Op: "list", Key: opts.Prefix, Err: err}
	}
	limit := opts.Limit
	if limit < 0 || limit > kv.MaxListLimit {
		return kv.Page{}, &kv.Error{Op: "list", Key: opts.Prefix, Err: kv.ErrInvalidLimit}
	}
	if err := kv.ValidatePrefix(opts.Prefix); err != nil {
		return kv.Page{}, &kv.Error{Op: "list", Key: opts.Prefix, Err: err}
	}
	if limit == 0 {
		limit = kv.MaxListLimit
	}
	after, hasAfter := "", false
	if opts.Cursor != "" {
		k, ok := n.decodeCursor(opts.Cursor)
		if !ok {
			return kv.Page{}, &kv.Error{Op: "list", Key: opts.Prefix, Err: kv.ErrInvalidCursor}
		}
		after, hasAfter = k, true
	}
	now := n.now().Unix()

	res := kv.Page{Keys: []kv.KeyInfo{}, Complete: true}
	n.mu.RLock()
	defer n.mu.RUnlock()
	n.byKey.AscendGreaterOrEqual(opts.Prefix, func(key string) bool {
		if !strings.HasPrefix(key, opts.Prefix) {
			return false
		}
		if hasAfter && key <= after {
			return true
		}
		e := n.byName[key]
		if e.expired(now) {
			return true
		}
		if len(res.Keys) == limit {
			res.Complete = false
			return false
		}
		ki := kv.KeyInfo{Name: strings.Clone(key)}
		if e.hasMeta() {
			ki.Metadata = json.RawMessage(e.meta())
		}
		if e.expires != 0 {
			ki.Expiration = time.Unix(e.expires, 0)
		}
		res.Keys = append(res.Keys, ki)
		return true
	})
	if !res.Complete {
		res.Cursor = n.encodeCursor(res.Keys[len(res.Keys)-1].Name)
	}
	return res, nil
}

// Cursors are "m2." + base64url(last key returned) + "." + base64url(the
// first 12 bytes of its HMAC-SHA256 under the namespace's cursor key).
// Anything else is a cursor this namespace did not issue.
const cursorTag = "m2."

func (n *Namespace) cursorMAC(lastKey string) []byte {
	m := hmac.New(sha256.New, n.cursorKey[:])
	m.Write([]byte(lastKey))
	return m.Sum(nil)[:12]
}

func (n *Namespace) encodeCursor(lastKey string) string {
	return cursorTag + base64.RawURLEncoding.EncodeToString([]byte(lastKey)) + "." +
		base64.RawURLEncoding.EncodeToString(n.cursorMAC(lastKey))
}

func (n *Namespace) decodeCursor(c string) (string, bool) {
	rest, ok := strings.CutPrefix(c, cursorTag)
	if !ok {
		return "", false
	}
	k64, mac64, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	key, err := base64.RawURLEncoding.DecodeString(k64)
	if err != nil {
		return "", false
	}
	mac, err := base64.RawURLEncoding.DecodeString(mac64)
	if err != nil || !hmac.Equal(mac, n.cursorMAC(string(key))) {
		return "", false
	}
	return string(key), true
}

// GetBulk implements kv.BulkNamespace.
func (n *Namespace) GetBulk(ctx context.Context, keys []string, opts kv.GetOptions) (map[string]kv.Entry[[]byte], error) {
	if err := ctx.Err(); err != nil {
		return nil, &kv.Error{Op: "get-bulk", Err: err}
	}
	if err := kv.ValidateBatch(len(keys), kv.MaxBulkGet); err != nil {
		return nil, &kv.Error{Op: "get-bulk", Err: err}
	}
	for _, k := range keys {
		if err := kv.ValidateKey(k); err != nil {
			return nil, &kv.Error{Op: "get-bulk", Key: k, Err: err}
		}
	}
	now := n.now().Unix()
	out := make(map[string]kv.Entry[[]byte], len(keys))
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, k := range keys {
		if it, ok := n.byName[k]; ok && !it.expired(now) {
			out[k] = it.toEntry(k, opts.WithMetadata)
		}
	}
	return out, nil
}

// PutBulk implements kv.BulkNamespace. Every entry is validated before any
// is stored: a rejected call stores nothing.
func (n *Namespace) PutBulk(ctx context.Context, entries []kv.Pair) error {
	if err := ctx.Err(); err != nil {
		return &kv.Error{Op: "put-bulk", Err: err}
	}
	if err := kv.ValidateBatch(len(entries), kv.MaxBulkWrite); err != nil {
		return &kv.Error{Op: "put-bulk", Err: err}
	}
	now := n.now()
	keys := make([]string, len(entries))
	items := make([]item, len(entries))
	for i, be := range entries {
		if err := kv.ValidatePut(be.Key, len(be.Value), be.PutOptions, now); err != nil {
			return &kv.Error{Op: "put-bulk", Key: be.Key, Err: err}
		}
		keys[i], items[i] = newEntry(be.Key, be.Value, be.PutOptions.Metadata, expiresAt(be.PutOptions, now))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, k := range keys {
		n.store(k, items[i], now.Unix())
	}
	return nil
}

// DeleteBulk implements kv.BulkNamespace.
func (n *Namespace) DeleteBulk(ctx context.Context, keys []string) error {
	if err := ctx.Err(); err != nil {
		return &kv.Error{Op: "delete-bulk", Err: err}
	}
	if err := kv.ValidateBatch(len(keys), kv.MaxBulkWrite); err != nil {
		return &kv.Error{Op: "delete-bulk", Err: err}
	}
	for _, k := range keys {
		if err := kv.ValidateKey(k); err != nil {
			return &kv.Error{Op: "delete-bulk", Key: k, Err: err}
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, k := range keys {
		n.remove(k)
	}
	n.sweep(n.now().Unix())
	return nil
}

// Len returns the number of live (unexpired) keys.
func (n *Namespace) Len() int {
	now := n.now().Unix()
	n.mu.RLock()
	defer n.mu.RUnlock()
	count := 0
	for _, it := range n.byName {
		if !it.expired(now) {
			count++
		}
	}
	return count
}
