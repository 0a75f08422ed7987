package kvserver

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"

	"github.com/kvkit/kvkit/kv/memory"
)

// snapshotVersion is the format version of Save's output.
const snapshotVersion = 1

type snapshotFile struct {
	Version    int                 `json:"version"`
	Namespaces []snapshotNamespace `json:"namespaces"`
}

type snapshotNamespace struct {
	ID      string                 `json:"id"`
	Title   string                 `json:"title"`
	Entries []memory.SnapshotEntry `json:"entries"`
}

// Save writes every namespace and its live entries to w as JSON (values in
// base64), for Load to read back. Expired entries are left out.
func (s *Server) Save(w io.Writer) error {
	s.mu.Lock()
	spaces := make([]*space, 0, len(s.spaces))
	for _, id := range slices.Sorted(maps.Keys(s.spaces)) {
		spaces = append(spaces, s.spaces[id])
	}
	file := snapshotFile{Version: snapshotVersion, Namespaces: make([]snapshotNamespace, 0, len(spaces))}
	for _, sp := range spaces {
		file.Namespaces = append(file.Namespaces, snapshotNamespace{ID: sp.id, Title: sp.title})
	}
	s.mu.Unlock()
	for i, sp := range spaces {
		file.Namespaces[i].Entries = sp.ns.Snapshot()
	}
	enc := json.NewEncoder(w)
	return enc.Encode(file)
}

// Load reads what Save wrote and adds its namespaces and entries to the
// server (replacing keys that exist). Entries that have expired since are
// skipped. A malformed file loads nothing.
func (s *Server) Load(r io.Reader) error {
	var file snapshotFile
	if err := json.NewDecoder(r).Decode(&file); err != nil {
		return errors.New("kvserver: reading snapshot: " + err.Error())
	}
	if file.Version != snapshotVersion {
		return errors.New("kvserver: unknown snapshot version")
	}
	fresh := make([]*space, len(file.Namespaces))
	for i, n := range file.Namespaces {
		if n.ID == "" {
			return errors.New("kvserver: snapshot has a namespace without an ID")
		}
		fresh[i] = s.newSpace(n.ID, n.Title)
		if err := fresh[i].ns.Restore(n.Entries); err != nil {
			return errors.New("kvserver: snapshot namespace " + n.ID + ": " + err.Error())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range fresh {
		if old, ok := s.spaces[sp.id]; ok {
			if err := old.ns.Restore(sp.ns.Snapshot()); err != nil {
				return err
			}
			continue
		}
		s.spaces[sp.id] = sp
	}
	return nil
}
