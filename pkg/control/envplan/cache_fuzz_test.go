package envplan

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// FuzzPlanCache: whatever bytes the plan cache file holds (a damaged disk, another evctl's
// format), loading it never panics: it is the cache or an empty one.
func FuzzPlanCache(f *testing.F) {
	dir := f.TempDir()
	ev := &contract.Event{Name: "clicked", Domain: "feed", Stage: "prod", File: "contracts/feed/clicked.yaml"}
	b, err := stub(ev)
	if err != nil {
		f.Fatal(err)
	}
	c := &planCache{Version: cacheVersion, Entries: map[string]*cacheEntry{ev.File: {Key: "k", Stub: b, ID: ev.ID(), Hosted: true,
		Desired: []liteDesired{{Event: ev.ID(), Kind: "descriptor", Name: ev.ID(), Hash: "h", Entry: &descstore.Entry{SHA256: "s"}}}}}}
	if err := c.save(dir, "local"); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(cachePath(dir, "local"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte{})
	f.Add([]byte("not gob"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		p := cachePath(root, "local")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got := loadCache(root, "local")
		if got == nil || got.Entries == nil || got.Version != cacheVersion {
			t.Fatalf("loadCache = %+v, want a cache", got)
		}
		for _, e := range got.Entries {
			if e != nil {
				_, _ = unstub(e.Stub)
			}
		}
	})
}
