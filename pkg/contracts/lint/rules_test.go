package lint_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/lint"
)

const baseConfig = `version: 1
platform_fields:
  - {name: event_id, type: string, mode: required, number: 1000}
  - {name: event_time, type: timestamp, mode: required, number: 1001}
teams:
  growth: {pods: [feed]}
environments:
  local: {stages: [staging, prod]}
`

const goodEvent = `name: video_played
domain: feed
owner: {team: growth, pod: feed}
description: A user started playback of a video.
stage: prod
schema:
  fields:
    - {name: video_id, type: string, mode: required, number: 1}
`

// writeRepo writes files (path → content) into a new temporary repository.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["evctl.yaml"]; !ok {
		files["evctl.yaml"] = baseConfig
	}
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func findings(ds diag.List) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = key(d)
	}
	return out
}

// unitRules are the rules the tests in this file trigger (the corpus under testdata/bad covers
// the rest).
var unitRules = []string{"FILE_TOO_LARGE", "FILE_READ", "OUTSIDE_REPOSITORY"}

func TestTenMegabyteFile(t *testing.T) {
	// 10 MB of valid-looking YAML: refused by size before it is read or parsed.
	var b bytes.Buffer
	b.WriteString(goodEvent + "examples:\n")
	for b.Len() < 10<<20 {
		b.WriteString("  - {video_id: v1, event_id: e1, event_time: \"2026-11-01T10:00:00Z\"}\n")
	}
	dir := writeRepo(t, map[string]string{"contracts/feed/video_played.yaml": b.String()})
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	got := findings(checkRepo(t, dir))
	want := []string{"contracts/feed/video_played.yaml:1:1 FILE_TOO_LARGE"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %q, want %q", got, want)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("linting a refused 10 MB file allocated %d bytes; it should not be read", grew)
	}
}

func TestUnreadableFile(t *testing.T) {
	dir := writeRepo(t, map[string]string{"contracts/feed/video_played.yaml": goodEvent})
	// A dangling symlink is listed as a file but cannot be read.
	if err := os.Symlink(filepath.Join(dir, "nowhere.yaml"), filepath.Join(dir, "contracts/feed/ghost.yaml")); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	ds := checkRepo(t, dir)
	got := findings(ds)
	if len(got) != 1 || got[0] != "contracts/feed/ghost.yaml:1:1 FILE_READ" {
		t.Fatalf("got %q", got)
	}
	if strings.Contains(ds[0].Message, dir) {
		t.Errorf("message repeats the absolute path: %s", ds[0].Message)
	}
}

func TestGoodRepoIsClean(t *testing.T) {
	dir := writeRepo(t, map[string]string{"contracts/feed/video_played.yaml": goodEvent})
	if ds := checkRepo(t, dir); len(ds) != 0 {
		t.Fatalf("want no findings, got %v", ds)
	}
}

// TestEveryRuleIsTested fails when a rule in lint.Rules() is triggered by no case in
// testdata/bad and no unit test here.
func TestEveryRuleIsTested(t *testing.T) {
	covered := map[string]bool{}
	for _, r := range unitRules {
		covered[r] = true
	}
	wants, _ := filepath.Glob(filepath.Join("testdata", "bad", "*", "want.txt"))
	for _, w := range wants {
		f, err := os.Open(w)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimPrefix(sc.Text(), "# also ")
			if strings.HasPrefix(line, "#") {
				continue
			}
			if fields := strings.Fields(line); len(fields) == 2 {
				covered[fields[1]] = true
			}
		}
		f.Close()
	}
	for _, r := range lint.Rules() {
		if !covered[r.ID] {
			t.Errorf("rule %s (%s) has no test case", r.ID, r.Doc)
		}
	}
}
