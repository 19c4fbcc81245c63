package lint_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// TestThrowawayCacheMatchesCold: with IncrOptions.CacheDir (what the --no-cache commands give it:
// an empty folder thrown away afterwards) every event is checked again even when the
// repository's own cache is warm, nothing under .evctl/cache changes, and the findings and the
// set are the whole pipeline's (lint.Check), byte for byte, with and without findings.
func TestThrowawayCacheMatchesCold(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := synth.Generate(ctx, dir, synth.Options{N: 60, Seed: 6}); err != nil {
		t.Fatal(err)
	}
	// The repository's own cache, warm; its index must be left as it is.
	if _, err := lint.CheckIncremental(ctx, "", dir, lint.IncrOptions{Today: incrToday}); err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(dir, ".evctl", "cache", "incr", "index")
	before := readFile(t, index)

	yamls, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	sort.Strings(yamls)
	for _, step := range []string{"clean", "an owner broken"} {
		if step == "an owner broken" {
			writeFile(t, yamls[3], regexp.MustCompile(`team: \w+`).ReplaceAllString(readFile(t, yamls[3]), "team: nobody"))
		}
		for _, build := range []bool{false, true} {
			cold, _, coldSet := coldRun(t, dir, build)
			tmp := t.TempDir()
			inc, err := lint.CheckIncremental(ctx, "", dir, lint.IncrOptions{Today: incrToday, SkipGenFresh: build, CacheDir: tmp})
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if inc.Fallback != "" || inc.Checked != inc.Events || inc.Events != 60 {
				t.Fatalf("%s: fallback %q, %d of %d events checked: the throwaway cache must check every event", step, inc.Fallback, inc.Checked, inc.Events)
			}
			if !reflect.DeepEqual(cold.Diags, inc.Diags) && !(len(cold.Diags) == 0 && len(inc.Diags) == 0) {
				t.Fatalf("%s: findings differ\ncold:\n%v\nthrowaway:\n%v", step, cold.Diags, inc.Diags)
			}
			if (step == "clean") == cold.Diags.HasErrors() {
				t.Fatalf("%s: cold findings %v", step, cold.Diags)
			}
			if !cold.Diags.HasErrors() {
				set, n, err := inc.Set()
				if err != nil {
					t.Fatal(err)
				}
				if string(set) != string(coldSet) || n != len(cold.Compiled.Files) {
					t.Fatalf("%s: the set differs from a cold build (%d vs %d bytes, %d vs %d events)", step, len(set), len(coldSet), n, len(cold.Compiled.Files))
				}
			}
			if _, err := os.Stat(filepath.Join(tmp, "incr", "index")); err != nil {
				t.Fatalf("%s: the throwaway cache holds no index: %v", step, err)
			}
		}
	}
	if readFile(t, index) != before {
		t.Fatal("a run with CacheDir changed the repository's own cache")
	}
}

// TestReleasedWorkspaceSameFindings: lint.Check on a workspace whose YAML trees were released at
// load (workspace.OpenReleased, what the commands open) reports what it reports on one that kept
// them, positions included: a released tree is parsed again when a position is asked for.
func TestReleasedWorkspaceSameFindings(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := synth.Generate(ctx, dir, synth.Options{N: 30, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	yamls, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	sort.Strings(yamls)
	writeFile(t, yamls[1], regexp.MustCompile(`team: \w+`).ReplaceAllString(readFile(t, yamls[1]), "team: nobody"))
	for _, y := range yamls[2:] {
		if src := readFile(t, y); strings.Contains(src, "\n  fields:") {
			writeFile(t, y, regexp.MustCompile(`number: 2\b`).ReplaceAllString(src, "number: 1"))
			break
		}
	}
	kept, err := workspace.Open("", dir)
	if err != nil {
		t.Fatal(err)
	}
	released, err := workspace.OpenReleased("", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range released.Events {
		if ev.Doc != nil && ev.Doc.Root != nil {
			t.Fatalf("%s: tree kept", ev.File)
		}
	}
	want := lint.Check(ctx, kept, lint.Options{Today: incrToday})
	got := lint.Check(ctx, released, lint.Options{Today: incrToday})
	if len(want.Diags) < 2 || !reflect.DeepEqual(want.Diags, got.Diags) {
		t.Fatalf("findings differ\nkept:\n%#v\nreleased:\n%#v", want.Diags, got.Diags)
	}
}
