package synth

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGenerate checks that a generated repository is clean (Generate fails on any finding),
// deterministic for a seed, and shaped as the benchmark promises.
func TestGenerate(t *testing.T) {
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	st, err := Generate(ctx, a, Options{N: 36, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(ctx, b, Options{N: 36, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	ta, tb := readTree(t, a), readTree(t, b)
	if len(ta) != len(tb) {
		t.Fatalf("same seed, %d files then %d", len(ta), len(tb))
	}
	for p, s := range ta {
		if tb[p] != s {
			t.Fatalf("same seed, %s differs", p)
		}
	}
	if st.Events != 36 || st.Raw != 12 {
		t.Errorf("events %d raw %d, want 36 and 12", st.Events, st.Raw)
	}
	if st.Fields < 36*10 {
		t.Errorf("only %d fields for 36 events", st.Fields)
	}
	if _, ok := tb[filepath.Join("buf-src", "buf.yaml")]; !ok {
		t.Error("buf-src/buf.yaml missing")
	}
}
