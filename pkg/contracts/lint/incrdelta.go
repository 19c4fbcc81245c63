package lint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// A run that changed a few entries does not rewrite the whole index (on 10,000 events, encoding
// it was half of what `evctl lint <one changed file>` cost): it writes index.delta, the entries
// and file stats that differ from the index file, the blobs they name, and the sha256 of the
// index it applies to. The next run reads both. Once the delta holds more than a twentieth of
// the entries or a tenth of the stats, or the packs are many, the index is written whole again
// (and unused packs go) and the delta is removed. A delta that does not name the index as it is (a crash between the
// two writes, another run) is ignored: the index alone is an older, still valid, cache.
const incrDelta = "index.delta"

// incrBase is the index file as read: what a delta is computed against.
type incrBase struct {
	sum     string
	entries map[string]*incrEntry
	stats   map[string]workspace.FileStat
}

// withDelta applies index.delta to idx when it names idx's file; else idx as it is.
func (s *incrStore) withDelta(idx *incrIndexFile) *incrIndexFile {
	b, err := os.ReadFile(filepath.Join(s.dir, incrDelta))
	if err != nil {
		return idx
	}
	head, body, ok := bytes.Cut(b, []byte("\n"))
	sum := sha256.Sum256(body)
	if !ok || string(head) != deltaHead(s.base.sum, hex.EncodeToString(sum[:])) {
		return idx
	}
	d, err := decodeIndex(body)
	if err != nil || d.Version != incrVersion {
		return idx
	}
	out := &incrIndexFile{
		Version:    idx.Version,
		Entries:    maps.Clone(idx.Entries),
		Imports:    d.Imports,
		ImportSyms: d.ImportSyms,
		Blobs:      maps.Clone(idx.Blobs),
		Stats:      maps.Clone(idx.Stats),
		StatsTaken: d.StatsTaken,
	}
	maps.Copy(out.Entries, d.Entries)
	maps.Copy(out.Blobs, d.Blobs)
	maps.Copy(out.Stats, d.Stats)
	for _, p := range d.Dropped {
		delete(out.Entries, p)
	}
	for _, p := range d.DroppedStats {
		delete(out.Stats, p)
	}
	return out
}

func deltaHead(base, sum string) string {
	return fmt.Sprintf("%s delta %s %s", incrVersion, base, sum)
}

// saveDelta writes idx as a delta against the index file when the difference is small, and
// reports whether it did. The caller holds s.mu and has synced this run's pack.
func (s *incrStore) saveDelta(idx *incrIndexFile) bool {
	// A full save also removes the packs nothing names any more: after 16 runs' packs, one is
	// due, so the folder does not grow a file per run.
	packs := len(s.before)
	if s.pack != nil && !s.before[filepath.Base(s.pack.Name())] {
		packs++
	}
	if s.base == nil || s.noDelta || packs > 16 {
		return false
	}
	d := &incrIndexFile{Version: incrVersion, Entries: map[string]*incrEntry{}, Imports: idx.Imports, ImportSyms: idx.ImportSyms,
		Blobs: map[string]blobLoc{}, Stats: map[string]workspace.FileStat{}, StatsTaken: idx.StatsTaken}
	for p, e := range idx.Entries {
		if s.base.entries[p] != e {
			d.Entries[p] = e
		}
	}
	for p := range s.base.entries {
		if _, ok := idx.Entries[p]; !ok {
			d.Dropped = append(d.Dropped, p)
		}
	}
	if len(d.Entries)+len(d.Dropped) > max(64, len(idx.Entries)/20) {
		return false
	}
	for p, st := range idx.Stats {
		if old, ok := s.base.stats[p]; !ok || old != st {
			d.Stats[p] = st
		}
	}
	for p := range s.base.stats {
		if _, ok := idx.Stats[p]; !ok {
			d.DroppedStats = append(d.DroppedStats, p)
		}
	}
	if len(d.Stats)+len(d.DroppedStats) > max(256, len(idx.Stats)/10) {
		return false
	}
	// The blobs the delta's entries and imports name, with where they are.
	name := func(b string) bool {
		l, ok := s.locs[b]
		d.Blobs[b] = l
		return ok
	}
	for _, b := range idx.Imports {
		if !name(b) {
			return false
		}
	}
	for _, e := range d.Entries {
		for _, c := range e.Closure {
			if !name(c.Blob) {
				return false
			}
		}
		for _, g := range e.Gen {
			if g.Blob != "" && !name(g.Blob) {
				return false
			}
		}
	}
	body := encodeIndex(d)
	sum := sha256.Sum256(body)
	tmp, err := os.CreateTemp(s.dir, ".tmp-delta-*")
	if err != nil {
		return false
	}
	_, err = fmt.Fprintf(tmp, "%s\n", deltaHead(s.base.sum, hex.EncodeToString(sum[:])))
	if err == nil {
		_, err = tmp.Write(body)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil || os.Rename(tmp.Name(), filepath.Join(s.dir, incrDelta)) != nil {
		_ = os.Remove(tmp.Name())
		return false
	}
	return true
}
