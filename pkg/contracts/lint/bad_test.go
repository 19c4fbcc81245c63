package lint_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

var update = flag.Bool("update", false, "rewrite want.txt files from the current findings")

// today pins waiver expiry so the corpus does not rot.
const today = "2026-06-01"

// checkRepo lints the repository at dir. GEN_STALE is checked only when the repo has a gen/
// folder, so the cases need not commit generated files they are not about.
func checkRepo(t *testing.T, dir string) diag.List {
	t.Helper()
	ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	_, statErr := os.Stat(filepath.Join(dir, "gen"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep := lint.Check(ctx, ws, lint.Options{Today: today, SkipGenFresh: statErr != nil})
	for _, d := range rep.Diags {
		if d.File == "" || d.Line < 1 || d.Col < 1 || strings.TrimSpace(d.Message) == "" || d.Rule == "" {
			t.Errorf("finding without a full position, rule or message: %+v", d)
		}
	}
	return rep.Diags
}

// key is how want.txt names a finding: file:line:col RULE.
func key(d diag.Diagnostic) string { return fmt.Sprintf("%s:%d:%d %s", d.File, d.Line, d.Col, d.Rule) }

// readWant parses want.txt: one `file:line:col RULE` per line; `# also file:line:col RULE` lists a
// secondary finding the case also produces; other `#` lines are comments. Every listed finding
// must be reported, and nothing else may be.
func readWant(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("want.txt: %v", err)
	}
	defer f.Close()
	want := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "# also "); ok {
			line = strings.TrimSpace(rest)
		} else if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		want[line] = true
	}
	if len(want) == 0 {
		t.Fatalf("%s lists no findings", path)
	}
	return want
}

func TestBadInput(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "bad", "*"))
	if err != nil || len(dirs) < 45 {
		t.Fatalf("want at least 45 bad-input cases, have %d (%v)", len(dirs), err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := checkRepo(t, dir)
			wantFile := filepath.Join(dir, "want.txt")
			if *update {
				writeWant(t, wantFile, got)
				return
			}
			want := readWant(t, wantFile)
			have := map[string]diag.Diagnostic{}
			for _, d := range got {
				have[key(d)] = d
			}
			for w := range want {
				if _, ok := have[w]; !ok {
					t.Errorf("missing finding %s", w)
				}
			}
			for k, d := range have {
				if !want[k] {
					t.Errorf("unexpected finding %s: %s", k, d.Message)
				}
			}
			if t.Failed() {
				for _, d := range got {
					t.Logf("got %s", d)
				}
			}
		})
	}
}

// writeWant keeps the comment lines of an existing want.txt and rewrites the findings, keeping
// the `# also` marks of findings that are still reported.
func writeWant(t *testing.T, path string, got diag.List) {
	t.Helper()
	var comments []string
	also := map[string]bool{}
	if old, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Split(string(old), "\n") {
			if rest, ok := strings.CutPrefix(l, "# also "); ok {
				also[strings.TrimSpace(rest)] = true
			} else if strings.HasPrefix(l, "#") {
				comments = append(comments, l)
			}
		}
	}
	keys := make([]string, 0, len(got))
	for _, d := range got {
		keys = append(keys, key(d))
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, c := range comments {
		b.WriteString(c + "\n")
	}
	for _, k := range keys {
		if also[k] {
			b.WriteString("# also ")
		}
		b.WriteString(k + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
