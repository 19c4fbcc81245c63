package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/cli"
)

// TestLintEntryPointDeps: the pre-commit entry point links no control plane, data plane, CLI
// or dev stack (kfake, fake-gcs-server), only the contracts side.
func TestLintEntryPointDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/evctl/evctl/cmd/evctl-lint").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list -deps gave %d packages", len(deps))
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/evctl/evctl/pkg/devstack", "github.com/evctl/evctl/pkg/cli", "github.com/evctl/evctl/pkg/control/",
			"github.com/evctl/evctl/pkg/data/", "github.com/evctl/evctl/pkg/discovery/", "github.com/twmb/franz-go/pkg/kfake", "github.com/fsouza/fake-gcs-server"} {
			if d == banned || strings.HasPrefix(d, banned+"/") || (strings.HasSuffix(banned, "/") && strings.HasPrefix(d, banned)) {
				t.Errorf("evctl-lint imports %s", d)
			}
		}
	}
}

// sample copies the repository's sample catalog (evctl.yaml, contracts/, gen/) to a temporary
// directory.
func sample(t *testing.T) string {
	t.Helper()
	src, dst := filepath.Join("..", ".."), t.TempDir()
	for _, top := range []string{"evctl.yaml", "contracts", "gen"} {
		err := filepath.WalkDir(filepath.Join(src, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestLintEntryPointAgreesWithEvctl: on a clean catalog and on one with a broken contract,
// evctl-lint exits and prints exactly what `evctl lint` does, in every format.
func TestLintEntryPointAgreesWithEvctl(t *testing.T) {
	dir := sample(t)
	t.Chdir(dir)
	check := func(wantCode int) string {
		t.Helper()
		var last string
		for _, format := range []string{"text", "github", "json"} {
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"--format", format, "--no-cache"}, &out, &errOut)
			var cout, cerr bytes.Buffer
			ccode := cli.Run(context.Background(), &cli.IOStreams{In: strings.NewReader(""), Out: &cout, ErrOut: &cerr,
				Getenv: func(string) string { return "" }, WorkDir: dir}, []string{"lint", "--no-cache", "--format", format})
			if code != wantCode || ccode != wantCode || out.String() != cout.String() {
				t.Fatalf("--format %s: evctl-lint exit %d, evctl lint exit %d (want %d)\nevctl-lint:\n%s%s\nevctl lint:\n%s%s",
					format, code, ccode, wantCode, out.String(), errOut.String(), cout.String(), cerr.String())
			}
			if format == "text" {
				last = out.String() + errOut.String()
			}
		}
		return last
	}
	if out := check(0); !strings.Contains(out, "events checked: no problems") {
		t.Fatalf("clean catalog: %s", out)
	}
	var victim string
	_ = filepath.WalkDir(filepath.Join(dir, "contracts"), func(p string, d fs.DirEntry, err error) error {
		if victim == "" && err == nil && strings.HasSuffix(p, ".yaml") {
			victim = p
		}
		return nil
	})
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(victim, append(b, []byte("unknown_key: 1\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(dir, victim)
	if out := check(1); !strings.Contains(out, rel+":") || !strings.Contains(out, "error") {
		t.Fatalf("broken contract %s: %s", rel, out)
	}
	var errOut bytes.Buffer
	if code := run(context.Background(), []string{"contracts/x.yaml"}, &bytes.Buffer{}, &errOut); code != 1 || !strings.Contains(errOut.String(), "takes no arguments") {
		t.Fatalf("file arguments: exit %d %q", code, errOut.String())
	}
}
