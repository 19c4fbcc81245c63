package lint

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
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
