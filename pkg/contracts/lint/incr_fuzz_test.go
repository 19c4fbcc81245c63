package lint_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/lint"
)

// FuzzIncrIndex replaces the incremental cache's index (.evctl/cache/incr/index, local state a
// crash or a disk can damage) with the fuzzed bytes: the check must not panic or fail, and a
// damaged index is only a cache miss.
func FuzzIncrIndex(f *testing.F) {
	dir := f.TempDir()
	ctx := context.Background()
	if _, err := synth.Generate(ctx, dir, synth.Options{N: 6, Seed: 7}); err != nil {
		f.Fatal(err)
	}
	opts := lint.IncrOptions{Today: incrToday}
	if _, err := lint.CheckIncremental(ctx, "", dir, opts); err != nil {
		f.Fatal(err)
	}
	index := filepath.Join(dir, ".evctl", "cache", "incr", "index")
	good, err := os.ReadFile(index)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(index, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := lint.CheckIncremental(ctx, "", dir, opts)
		if err != nil {
			t.Fatalf("a damaged index fails the check: %v", err)
		}
		for _, d := range rep.Diags {
			if d.File == "" || d.Line < 1 {
				t.Fatalf("finding without a position: %v", d)
			}
		}
	})
}
