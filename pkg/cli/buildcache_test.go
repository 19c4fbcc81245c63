package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildLintCache runs build and lint with and without .evctl/cache: the cached runs must
// print byte for byte what the full runs print, and a changed input must never be answered from
// the cache.
func TestBuildLintCache(t *testing.T) {
	dir := generated(t)
	cacheDir := filepath.Join(dir, ".evctl", "cache")
	type run struct {
		code           int
		stdout, stderr string
	}
	do := func(args ...string) run {
		code, out, errOut := runCLI(t, dir, args...)
		return run{code, out, errOut}
	}
	entries := func() []string {
		m, _ := filepath.Glob(filepath.Join(cacheDir, "*"))
		return m
	}

	full := do("build", "--no-cache", "-o", "-")
	if full.code != 0 || len(entries()) != 0 {
		t.Fatalf("build --no-cache: exit %d, cache %v: %s", full.code, entries(), full.stderr)
	}
	miss := do("build", "-o", "-")
	if len(entries()) != 1 {
		t.Fatalf("build did not fill the cache: %v", entries())
	}
	hit := do("build", "-o", "-")
	for _, r := range []run{miss, hit} {
		if r != full {
			t.Errorf("cached build differs from the full build: exit %d, %d bytes, %q", r.code, len(r.stdout), r.stderr)
		}
	}
	// Written to a file, the summary names the file, the bytes and their sha256.
	a, b := do("build", "--no-cache", "-o", "a.binpb"), do("build", "-o", "b.binpb")
	fa, _ := os.ReadFile(filepath.Join(dir, "a.binpb"))
	fb, _ := os.ReadFile(filepath.Join(dir, "b.binpb"))
	if string(fa) != string(fb) || strings.Replace(a.stderr, "a.binpb", "b.binpb", 1) != b.stderr {
		t.Errorf("cached build file differs: %q vs %q", a.stderr, b.stderr)
	}

	for _, format := range []string{"text", "json", "github"} {
		full := do("lint", "--no-cache", "--format", format)
		miss := do("lint", "--format", format)
		hit := do("lint", "--format", format)
		if full.code != 0 || miss != full || hit != full {
			t.Errorf("lint --format %s: cached output differs: %+v / %+v / %+v", format, full, miss, hit)
		}
	}
	if hit := do("lint", "contracts"); hit.code != 0 || hit.stderr != do("lint", "--no-cache", "contracts").stderr {
		t.Errorf("lint with paths: %+v", hit)
	}

	// A stale gen/ file is found although lint was clean before.
	gens, _ := filepath.Glob(filepath.Join(dir, "gen", "proto", "*", "*.proto"))
	if len(gens) == 0 {
		t.Fatal("no gen/proto files")
	}
	old, _ := os.ReadFile(gens[0])
	_ = os.WriteFile(gens[0], append(old, '\n'), 0o644)
	if r := do("lint"); r.code != 1 || !strings.Contains(r.stdout, "GEN_STALE") {
		t.Errorf("lint after gen/ changed: exit %d %q", r.code, r.stdout)
	}
	_ = os.WriteFile(gens[0], old, 0o644)

	// A broken contract fails build and lint although both were cached clean.
	yamls, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	src, _ := os.ReadFile(yamls[0])
	_ = os.WriteFile(yamls[0], []byte(strings.Replace(string(src), "name: ", "name: Bad Name ", 1)), 0o644)
	if r := do("lint"); r.code != 1 || r.stdout == "" {
		t.Errorf("lint after a contract broke: exit %d %q", r.code, r.stdout)
	}
	if r := do("build", "-o", "-"); r.code != 1 || r.stdout != "" {
		t.Errorf("build after a contract broke: exit %d %q", r.code, r.stderr)
	}
	_ = os.WriteFile(yamls[0], src, 0o644)
	if r := do("build", "-o", "-"); r != full {
		t.Errorf("build after the contract was restored: exit %d %q", r.code, r.stderr)
	}
}

// TestLintLeavesTheSetForBuild: lint keeps every event's compiled file in .evctl/cache/incr, so
// the build after it, as CI runs them on a fresh checkout, compiles nothing (it stores no new
// compiled file) and writes exactly what a full build writes.
func TestLintLeavesTheSetForBuild(t *testing.T) {
	dir := generated(t)
	index := filepath.Join(dir, ".evctl", "cache", "incr", "index")
	packs := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, ".evctl", "cache", "incr", "packs", "*"))
		return m
	}
	_, full, fullErr := runCLI(t, dir, "build", "--no-cache", "-o", "-")

	yamls, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	src, _ := os.ReadFile(yamls[0])
	_ = os.WriteFile(yamls[0], []byte(strings.Replace(string(src), "name: ", "name: Bad Name ", 1)), 0o644)
	if code, _, _ := runCLI(t, dir, "lint"); code != 1 {
		t.Fatalf("lint with a finding: exit %d", code)
	}
	if code, out, _ := runCLI(t, dir, "build", "-o", "-"); code != 1 || out != "" {
		t.Fatalf("build with a finding: exit %d, %d bytes", code, len(out))
	}
	_ = os.WriteFile(yamls[0], src, 0o644)

	if code, _, errOut := runCLI(t, dir, "lint"); code != 0 {
		t.Fatalf("clean lint: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(index); err != nil {
		t.Fatalf("lint left no index: %v", err)
	}
	before := packs()
	code, out, errOut := runCLI(t, dir, "build", "-o", "-")
	if code != 0 || out != full || errOut != fullErr {
		t.Fatalf("build after lint differs from a full build: exit %d, %d vs %d bytes, %q vs %q", code, len(out), len(full), errOut, fullErr)
	}
	if after := packs(); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("build stored compiled files (%v, then %v): it compiled again", before, after)
	}
	// A damaged stored file is not trusted: build still writes the full build's bytes.
	blobs, _ := filepath.Glob(filepath.Join(dir, ".evctl", "cache", "incr", "packs", "*"))
	if len(blobs) == 0 {
		t.Fatal("no stored files")
	}
	for _, b := range blobs {
		data, _ := os.ReadFile(b)
		for i := range data {
			data[i] ^= 0xff
		}
		_ = os.WriteFile(b, data, 0o644)
	}
	if code, out, errOut := runCLI(t, dir, "build", "-o", "-"); code != 0 || out != full || errOut != fullErr {
		t.Fatalf("build over a damaged cache: exit %d, %d vs %d bytes, %q", code, len(out), len(full), errOut)
	}
}

// TestLintPathsSameAsFull: `evctl lint <paths>` (the pre-commit path) prints what the full
// pipeline prints for those paths, whether or not they hold gen/ (whose freshness check is
// skipped when its findings would be filtered out anyway).
func TestLintPathsSameAsFull(t *testing.T) {
	dir := generated(t)
	yamls, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	src, _ := os.ReadFile(yamls[0])
	// A new description: the contract is fine, its gen/ file is stale.
	_ = os.WriteFile(yamls[0], []byte(strings.Replace(string(src), "description: ", "description: Edited. ", 1)), 0o644)
	rel, _ := filepath.Rel(dir, yamls[0])
	for _, paths := range [][]string{{rel}, {"gen"}, {"gen/proto"}, {"."}, {"contracts", ".github"}} {
		fc, fout, ferr := runCLI(t, dir, append([]string{"lint", "--no-cache"}, paths...)...)
		c, out, errOut := runCLI(t, dir, append([]string{"lint"}, paths...)...)
		if c != fc || out != fout || errOut != ferr {
			t.Errorf("lint %v: exit %d %q %q, full pipeline exit %d %q %q", paths, c, out, errOut, fc, fout, ferr)
		}
	}
	if _, out, _ := runCLI(t, dir, "lint", "gen"); !strings.Contains(out, "GEN_STALE") {
		t.Errorf("lint gen after a description changed: %q", out)
	}
}
