package breaking

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/internal/synth"
)

// benchRepo writes a synthetic repository of n events into a git repository, commits it, then
// changes one field type of one prod form-path event and commits again. It returns the root and
// the changed file.
func benchRepo(b *testing.B, n int, full bool) (string, string) {
	b.Helper()
	dir := b.TempDir()
	var err error
	if full {
		_, err = synth.Generate(context.Background(), dir, synth.Options{N: n, Seed: 1})
	} else {
		_, err = synth.WriteContracts(dir, synth.Options{N: n, Seed: 1})
	}
	if err != nil {
		b.Fatal(err)
	}
	if full { // buf reads its settings from buf-src/buf.yaml: the same category evctl uses
		if err := os.WriteFile(filepath.Join(dir, "buf-src", "buf.yaml"), []byte("version: v2\nbreaking:\n  use: [WIRE_JSON]\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	runGit(b, dir, "init", "-q", "-b", "main")
	runGit(b, dir, "add", "-A")
	runGit(b, dir, "commit", "-q", "-m", "base")
	var changed string
	_ = filepath.WalkDir(filepath.Join(dir, "contracts"), func(p string, d os.DirEntry, err error) error {
		if changed != "" || err != nil || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		src, _ := os.ReadFile(p)
		s := string(src)
		if strings.Contains(s, "stage: prod") && !strings.Contains(s, "proto:") {
			// The last int64 field becomes a string: one breaking change, examples unaffected.
			if i := strings.LastIndex(s, "type: int64"); i > 0 {
				changed = p
				return os.WriteFile(p, []byte(s[:i]+"type: string"+s[i+len("type: int64"):]), 0o644)
			}
		}
		return nil
	})
	if changed == "" {
		b.Fatal("no prod form-path event with an int64 field")
	}
	if full { // keep buf-src, buf's copy of the protos, in step with the contract
		ws := openWS(b, dir)
		rel, _ := filepath.Rel(dir, changed)
		ev := ws.Event(filepath.ToSlash(rel))
		out, _ := ws.Effective(ev)
		if err := os.WriteFile(filepath.Join(dir, "buf-src", filepath.FromSlash(out.Path)), out.Source, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	runGit(b, dir, "commit", "-q", "-am", "change one event")
	return dir, changed
}

// BenchmarkCheckGitOneChanged is `evctl breaking --against HEAD~1` on 1,200 events with one
// changed: it should cost close to that event, not the repository.
func BenchmarkCheckGitOneChanged(b *testing.B) {
	bin := bufBin(b)
	dir, _ := benchRepo(b, 1200, false)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base, err := FromGit(ctx, dir, "HEAD~1")
		if err != nil {
			b.Fatal(err)
		}
		ws, err := LoadWorkspace(filepath.Join(dir, "evctl.yaml"), "", base.Scope())
		if err != nil {
			b.Fatal(err)
		}
		rep, err := Check(ctx, Current{Workspace: ws}, base, Options{Buf: bin})
		base.Close()
		if err != nil {
			b.Fatal(err)
		}
		if s := rep.Summary(); s.Checked != 1 || s.Breaking != 1 {
			b.Fatalf("summary %+v\n%s", s, dump(rep))
		}
	}
}

// BenchmarkBufWholeRepo is the comparison the issue names: buf breaking on every effective
// proto of the same repository against the same git baseline.
func BenchmarkBufWholeRepo(b *testing.B) {
	bin := bufBin(b)
	dir, _ := benchRepo(b, 1200, true)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, "breaking", "buf-src", "--against", ".git#ref=HEAD~1,subdir=buf-src", "--error-format", "json")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 100 {
			b.Fatalf("buf breaking: %v\n%s", err, out)
		}
	}
}
