package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCatalogRemovesOnlyItsOwnStaleFiles: a file evctl wrote for an event that is gone is
// removed; a hand-written file in the folder is kept; --check notices both kinds of drift.
func TestCatalogRemovesOnlyItsOwnStaleFiles(t *testing.T) {
	dir := copyRepo(t)
	runIn(t, dir, 0, "catalog")
	if err := os.Remove(filepath.Join(dir, "contracts", "posts", "post_liked.yaml")); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(dir, "catalog", "extra.yaml")
	if err := os.WriteFile(own, []byte("# hand-written\nkind: Component\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runIn(t, dir, 1, "catalog", "--check")
	out := runIn(t, dir, 0, "catalog")
	if !strings.Contains(out, "removed catalog/apis/posts.post_liked.yaml") {
		t.Fatalf("catalog did not report the removal:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "catalog", "apis", "posts.post_liked.yaml")); !os.IsNotExist(err) {
		t.Fatalf("stale API file still there: %v", err)
	}
	if _, err := os.Stat(own); err != nil {
		t.Fatalf("a hand-written file was removed: %v", err)
	}
	runIn(t, dir, 0, "catalog", "--check")
}
