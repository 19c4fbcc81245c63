package scaffold_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/scaffold"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestInitKeepsEvctlOutOfGit inits a project in a git repository, then writes the files evctl
// dev, lint and apply leave under .evctl/ (the dev env file with the admin password, team
// credentials, the cache, the lake): `git add -A` stages none of them.
func TestInitKeepsEvctlOutOfGit(t *testing.T) {
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	if _, _, err := scaffold.Init(dir); err != nil {
		t.Fatal(err)
	}
	local := []string{".evctl/dev/env", ".evctl/credentials/local/growth.password", ".evctl/cache/lint/x", ".evctl/lake/t/_delta_log/0.json", ".evctl/state/local/state.json"}
	for _, f := range local {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", "-A")
	staged := git(t, dir, "diff", "--cached", "--name-only")
	if strings.Contains(staged, ".evctl") || !strings.Contains(staged, "evctl.yaml") || !strings.Contains(staged, ".gitignore") {
		t.Fatalf("git add -A staged:\n%s", staged)
	}
	if out := git(t, dir, append([]string{"check-ignore"}, local...)...); len(strings.Fields(out)) != len(local) {
		t.Fatalf("check-ignore: %s", out)
	}
}

// TestInitAppendsToGitignore: an existing .gitignore gets the .evctl/ entry once, and nothing
// else of it changes.
func TestInitAppendsToGitignore(t *testing.T) {
	dir := t.TempDir()
	gi := filepath.Join(dir, ".gitignore")
	if err := os.WriteFile(gi, []byte("node_modules/"), 0o644); err != nil {
		t.Fatal(err)
	}
	written, _, err := scaffold.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(gi)
	if !strings.HasPrefix(string(b), "node_modules/\n") || !strings.HasSuffix(string(b), "\n/.evctl/\n") || !contains(written, ".gitignore") {
		t.Fatalf(".gitignore after init (written %v):\n%s", written, b)
	}
	written, skipped, err := scaffold.Init(dir)
	if err != nil || contains(written, ".gitignore") || !contains(skipped, ".gitignore") {
		t.Fatalf("second init: written %v skipped %v %v", written, skipped, err)
	}
	if b2, _ := os.ReadFile(gi); string(b2) != string(b) {
		t.Fatalf("second init changed .gitignore:\n%s", b2)
	}
}

// TestInitEnvironments: the scaffolded evctl.yaml loads, with local, staging and prod, and every
// value a user must fill in for staging and prod is marked CHANGE-ME.
func TestInitEnvironments(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := scaffold.Init(dir); err != nil {
		t.Fatal(err)
	}
	p, diags, err := config.Load(filepath.Join(dir, config.FileName))
	if err != nil || len(diags) != 0 {
		t.Fatalf("load: %v %v", err, diags)
	}
	for env, stages := range map[string]string{"local": "[staging prod]", "staging": "[staging prod]", "prod": "[prod]"} {
		e, err := p.Env(env)
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if fmt.Sprint(e.Stages) != stages {
			t.Errorf("%s stages %v, want %s", env, e.Stages, stages)
		}
		if env == "local" {
			continue
		}
		for what, v := range map[string]string{"brokers": strings.Join(e.Kafka.Brokers, ","), "descriptors": e.Descriptors.URL, "state": e.State.URL, "bigquery": e.BigQuery.Project} {
			if !strings.Contains(v, "CHANGE-ME") {
				t.Errorf("%s %s = %q: not marked CHANGE-ME", env, what, v)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
