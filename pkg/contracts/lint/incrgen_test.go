package lint_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/lint"
)

// genTree reads every file under gen/proto with its modification time.
func genTree(t *testing.T, dir string) (map[string]string, map[string]time.Time) {
	t.Helper()
	files, times := map[string]string{}, map[string]time.Time{}
	base := filepath.Join(dir, "gen", "proto")
	err := filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)], times[filepath.ToSlash(rel)] = string(b), st.ModTime()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, times
}

// incrGenerate is `evctl generate`: the incremental check, then WriteGen.
func incrGenerate(t *testing.T, dir string) *lint.GenResult {
	t.Helper()
	rep, err := lint.CheckIncremental(context.Background(), "", dir, lint.IncrOptions{Today: incrToday, SkipGenFresh: true})
	if err != nil || rep.Diags.HasErrors() {
		t.Fatalf("check: %v %v", err, rep.Diags)
	}
	res, err := rep.WriteGen()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestGenerateWritesOnlyChanges: generate writes gen/proto byte for byte as the whole pipeline
// makes it, and after one edit rewrites that event's file only: every other file keeps its
// modification time. A removed event's file is removed; a file nobody wrote is rewritten.
func TestGenerateWritesOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), dir, synth.Options{N: 12, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	_ = os.RemoveAll(filepath.Join(dir, "gen", "proto"))
	first := incrGenerate(t, dir)
	if len(first.Written) != first.Files || first.Unchanged != 0 {
		t.Fatalf("first generate: %+v", first)
	}
	check := func(when string) {
		t.Helper()
		rep, _, _ := coldCheck(t, dir)
		want := map[string]string{}
		for p, b := range lint.GenFiles(rep.Compiled, rep.Outputs) {
			want[p] = string(b)
		}
		got, _ := genTree(t, dir)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: gen/proto differs from the whole pipeline's", when)
		}
		if len(rep.Diags) > 0 {
			t.Fatalf("%s: lint after generate: %v", when, rep.Diags)
		}
	}
	check("first generate")

	// Old times, as files checked out a while ago have, so a rewrite shows.
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	_, times := genTree(t, dir)
	for p := range times {
		if err := os.Chtimes(filepath.Join(dir, "gen", "proto", filepath.FromSlash(p)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if again := incrGenerate(t, dir); len(again.Written)+len(again.Removed) != 0 || again.Unchanged != again.Files {
		t.Fatalf("generate with nothing changed: %+v", again)
	}

	yamls, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	sort.Strings(yamls)
	var edited string
	for _, y := range yamls {
		if src := readFile(t, y); strings.Contains(src, "  fields:\n") && strings.Contains(src, "\ndescription: \"") {
			writeFile(t, y, strings.Replace(src, "\ndescription: \"", "\ndescription: \"Edited. ", 1))
			edited = strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(y), filepath.ToSlash(dir)+"/contracts/"), ".yaml") + ".proto"
			break
		}
	}
	if edited == "" {
		t.Fatal("no form contract with a description")
	}
	res := incrGenerate(t, dir)
	if !reflect.DeepEqual(res.Written, []string{"gen/proto/" + edited}) || len(res.Removed) != 0 {
		t.Fatalf("after one edit: %+v; want only gen/proto/%s written", res, edited)
	}
	_, after := genTree(t, dir)
	for p, tm := range after {
		if p != edited && !tm.Equal(old) {
			t.Fatalf("%s was rewritten (mtime %v)", p, tm)
		}
	}
	check("after one edit")

	// A file changed by hand is rewritten; a removed event's file goes.
	hand := filepath.Join(dir, "gen", "proto", filepath.FromSlash(edited))
	writeFile(t, hand, readFile(t, hand)+"// by hand\n")
	var gone string
	for _, y := range yamls {
		if src := readFile(t, y); strings.Contains(src, "  fields:\n") && !strings.HasSuffix(filepath.ToSlash(y), strings.TrimSuffix(edited, ".proto")+".yaml") {
			gone = strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(y), filepath.ToSlash(dir)+"/contracts/"), ".yaml") + ".proto"
			if err := os.Remove(y); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	res = incrGenerate(t, dir)
	if !reflect.DeepEqual(res.Written, []string{"gen/proto/" + edited}) || !reflect.DeepEqual(res.Removed, []string{"gen/proto/" + gone}) {
		t.Fatalf("after a hand edit and a removal: %+v", res)
	}
	check("after a removal")
}
