package lint

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// TestIncrStorePacks: blobs a run stores go to one pack; a pack nothing names any more is
// removed; when most bytes are dead, the live blobs are copied to a new pack and the old one
// goes; a damaged pack is reported, never read as good.
func TestIncrStorePacks(t *testing.T) {
	root := t.TempDir()
	packs := func() []string {
		m, _ := filepath.Glob(filepath.Join(root, ".evctl", "cache", "incr", "packs", "*"))
		return m
	}
	entry := func(blobs ...string) *incrEntry {
		e := &incrEntry{}
		for _, b := range blobs {
			e.Closure = append(e.Closure, incrSet{Path: b, Blob: b})
		}
		return e
	}
	live, dead := []byte("live blob"), bytes.Repeat([]byte("dead "), 100)

	// Run 1: two blobs, one pack.
	s := openIncrStore(root)
	idx := s.load()
	a, _ := s.put(live)
	b, _ := s.put(dead)
	if again, _ := s.put(live); again != a {
		t.Fatal("the same bytes got another name")
	}
	idx.Entries = map[string]*incrEntry{"x": entry(a, b)}
	s.save(idx)
	s.close()
	if len(packs()) != 1 {
		t.Fatalf("packs after one run: %v", packs())
	}

	// Run 2: b is dead and outweighs a: a is copied to this run's pack, the old pack goes.
	s = openIncrStore(root)
	s.compactAt = 0
	s.noDelta = true
	idx = s.load()
	idx.Entries = map[string]*incrEntry{"x": entry(a)}
	s.save(idx)
	s.close()
	if len(packs()) != 1 {
		t.Fatalf("packs after compaction: %v", packs())
	}
	s = openIncrStore(root)
	idx = s.load()
	if got, err := s.get(a); err != nil || !bytes.Equal(got, live) {
		t.Fatalf("live blob after compaction: %q, %v", got, err)
	}
	if _, err := s.get(b); err == nil {
		t.Fatal("a dead blob is still readable")
	}
	if len(idx.Blobs) != 1 {
		t.Fatalf("the index names %d blobs", len(idx.Blobs))
	}
	s.close()

	// A damaged pack is an error, not other bytes.
	p := packs()[0]
	data, _ := os.ReadFile(p)
	data[0] ^= 0xff
	_ = os.WriteFile(p, data, 0o644)
	s = openIncrStore(root)
	s.load()
	if _, err := s.get(a); err == nil {
		t.Fatal("a damaged blob was read")
	}
	s.close()
}

// TestIncrDelta: a run that changes a few entries writes index.delta and leaves the index file
// as it was; the next load sees both; a delta that names another index, or is damaged, is
// ignored (the index alone is an older valid cache); many changes write the index whole and
// remove the delta.
func TestIncrDelta(t *testing.T) {
	root := t.TempDir()
	s := openIncrStore(root)
	idx := s.load()
	blob, _ := s.put([]byte("blob"))
	entry := func(key string) *incrEntry {
		return &incrEntry{Key: key, Compiled: true, Closure: []incrSet{{Path: "a.proto", Blob: blob}}}
	}
	for i := range 100 {
		idx.Entries[fmt.Sprint("e", i)] = entry(fmt.Sprint("k", i))
	}
	idx.Stats = map[string]workspace.FileStat{"contracts/x.yaml": {Size: 1, Sum: "s1"}, "contracts/gone.yaml": {Size: 2}}
	s.save(idx)
	s.close()
	indexPath, deltaPath := filepath.Join(s.dir, incrIndex), filepath.Join(s.dir, incrDelta)
	base, err := os.ReadFile(indexPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(deltaPath); err == nil {
		t.Fatal("the first save wrote a delta")
	}

	// A few changes: a delta.
	s = openIncrStore(root)
	idx = s.load()
	entries := maps.Clone(idx.Entries)
	entries["e1"] = entry("changed")
	delete(entries, "e2")
	entries["new"] = entry("new")
	idx.Entries = entries
	idx.Stats = map[string]workspace.FileStat{"contracts/x.yaml": {Size: 3, Sum: "s2"}, "contracts/new.yaml": {Size: 4}}
	idx.StatsTaken = 42
	s.save(idx)
	s.close()
	if now, _ := os.ReadFile(indexPath); !bytes.Equal(now, base) {
		t.Fatal("a small change rewrote the index")
	}
	if _, err := os.Stat(deltaPath); err != nil {
		t.Fatalf("no delta: %v", err)
	}
	s = openIncrStore(root)
	got := s.load()
	if len(got.Entries) != 100 || got.Entries["e1"].Key != "changed" || got.Entries["e2"] != nil || got.Entries["new"] == nil || got.Entries["e3"].Key != "k3" {
		t.Fatalf("entries after the delta: %d", len(got.Entries))
	}
	if !reflect.DeepEqual(got.Stats, idx.Stats) || got.StatsTaken != 42 {
		t.Fatalf("stats after the delta: %v %d", got.Stats, got.StatsTaken)
	}
	if b, err := s.get(blob); err != nil || string(b) != "blob" {
		t.Fatalf("blob after the delta: %q %v", b, err)
	}
	s.close()

	// A damaged delta is ignored.
	good, _ := os.ReadFile(deltaPath)
	damaged := append([]byte(nil), good...)
	damaged[len(damaged)-1] ^= 1
	_ = os.WriteFile(deltaPath, damaged, 0o644)
	s = openIncrStore(root)
	if got := s.load(); got.Entries["e1"].Key != "k1" || got.Entries["e2"] == nil {
		t.Fatal("a damaged delta was applied")
	}
	s.close()
	_ = os.WriteFile(deltaPath, good, 0o644)

	// Many changes: the index whole, no delta.
	s = openIncrStore(root)
	idx = s.load()
	entries = map[string]*incrEntry{}
	for i := range 100 {
		entries[fmt.Sprint("e", i)] = entry(fmt.Sprint("other", i))
	}
	idx.Entries = entries
	s.save(idx)
	s.close()
	if _, err := os.Stat(deltaPath); err == nil {
		t.Fatal("the delta outlived a whole save")
	}
	s = openIncrStore(root)
	if got := s.load(); len(got.Entries) != 100 || got.Entries["e1"].Key != "other1" {
		t.Fatal("entries after a whole save")
	}
	s.close()

	// A delta that names another index is ignored.
	_ = os.WriteFile(deltaPath, good, 0o644)
	s = openIncrStore(root)
	if got := s.load(); got.Entries["e1"].Key != "other1" || got.Entries["new"] != nil {
		t.Fatal("a delta of another index was applied")
	}
	s.close()
}
