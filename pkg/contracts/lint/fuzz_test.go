package lint_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// FuzzCheck writes the fuzzed bytes as one event of an otherwise valid repository and runs every
// rule on it: nothing panics, and every finding has a position.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(goodEvent))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRepo(t, []byte(baseConfig), data)
	})
}

// FuzzConfig is FuzzCheck for evctl.yaml: the fuzzed bytes are the configuration of a
// repository with one valid event. Seeds: the sample catalog's evctl.yaml and every evctl.yaml
// of the bad-input corpus (testdata/bad/*/evctl.yaml).
func FuzzConfig(f *testing.F) {
	f.Add([]byte(baseConfig))
	seeds, _ := filepath.Glob(filepath.Join("testdata", "bad", "*", "evctl.yaml"))
	for _, p := range append(seeds, filepath.Join("..", "..", "..", "evctl.yaml")) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRepo(t, data, []byte(goodEvent))
	})
}

// fuzzRepo lints a repository of config and one event: nothing panics, and every finding has
// a position.
func fuzzRepo(t *testing.T, config, event []byte) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "contracts", "feed"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "evctl.yaml"), config, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "contracts", "feed", "video_played.yaml"), event, 0o644); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep := lint.Check(ctx, ws, lint.Options{Today: today, SkipGenFresh: true})
	for _, d := range rep.Diags {
		if d.File == "" || d.Line < 1 || d.Rule == "" || d.Message == "" {
			t.Fatalf("finding without file, line, rule or message: %+v", d)
		}
	}
	if rep.Compiled == nil {
		t.Fatal("no compiled result")
	}
}
