package memory

import (
	"encoding/json"
	"strings"

	"github.com/kvkit/kvkit/kv"
)

// SnapshotEntry is one stored key as exported by [Namespace.Snapshot]. Its
// JSON form (value as base64) is what kvkit serve --data writes to disk.
type SnapshotEntry struct {
	Key        string          `json:"key"`
	Value      []byte          `json:"value"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	Expiration int64           `json:"expiration,omitempty"` // Unix seconds; 0 = never
}

// Snapshot returns every live (unexpired) entry in UTF-8 byte order of keys.
// The entries are copies: changing them does not change the namespace.
func (n *Namespace) Snapshot() []SnapshotEntry {
	now := n.now().Unix()
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]SnapshotEntry, 0, n.byKey.Len())
	n.byKey.Ascend(func(key string) bool {
		if e := n.byName[key]; !e.expired(now) {
			se := SnapshotEntry{Key: strings.Clone(key), Value: []byte(e.value()), Expiration: e.expires}
			if e.hasMeta() {
				se.Metadata = json.RawMessage(e.meta())
			}
			out = append(out, se)
		}
		return true
	})
	return out
}

// Restore adds entries to the namespace, replacing keys that exist. Entries
// already expired at the namespace's current time are skipped. Every entry is
// checked first (key, value size, metadata, expiration not past
// kv.MaxExpiration); one bad entry restores nothing and the error wraps the
// kv sentinel.
func (n *Namespace) Restore(entries []SnapshotEntry) error {
	now := n.now().Unix()
	keys := make([]string, 0, len(entries))
	items := make([]item, 0, len(entries))
	for _, se := range entries {
		if err := kv.ValidateKey(se.Key); err != nil {
			return &kv.Error{Op: "restore", Key: se.Key, Err: err}
		}
		if err := kv.ValidateValue(len(se.Value)); err != nil {
			return &kv.Error{Op: "restore", Key: se.Key, Err: err}
		}
		if err := kv.ValidateMetadata(se.Metadata); err != nil {
			return &kv.Error{Op: "restore", Key: se.Key, Err: err}
		}
		if se.Expiration < 0 || se.Expiration > kv.MaxExpiration {
			return &kv.Error{Op: "restore", Key: se.Key, Err: kv.ErrInvalidExpiration}
		}
		if se.Expiration != 0 && now >= se.Expiration {
			continue
		}
		k, it := newEntry(se.Key, se.Value, se.Metadata, se.Expiration)
		keys, items = append(keys, k), append(items, it)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, k := range keys {
		n.store(k, items[i], now)
	}
	return nil
}
