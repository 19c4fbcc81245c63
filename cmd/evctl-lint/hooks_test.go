package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/scaffold"
)

// TestPreCommitHook: the hook this repository offers runs the installed evctl-lint (nothing for
// pre-commit to compile), on the whole repository, and the config `evctl init` writes pins it
// to a release tag: the evctl version its workflow installs and the newest release of
// CHANGELOG.md.
func TestPreCommitHook(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var hooks []map[string]any
	if err := yaml.Unmarshal(b, &hooks); err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0]["id"] != "evctl-lint" || hooks[0]["entry"] != "evctl-lint" || hooks[0]["language"] != "system" || hooks[0]["pass_filenames"] != false {
		t.Fatalf(".pre-commit-hooks.yaml: %v", hooks)
	}

	dir := t.TempDir()
	if _, _, err := scaffold.Init(dir); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Repos []struct {
			Repo  string
			Rev   string
			Hooks []struct{ ID string }
		}
	}
	b, _ = os.ReadFile(filepath.Join(dir, ".pre-commit-config.yaml"))
	if err := yaml.Unmarshal(b, &cfg); err != nil || len(cfg.Repos) != 1 || len(cfg.Repos[0].Hooks) != 1 || cfg.Repos[0].Hooks[0].ID != "evctl-lint" {
		t.Fatalf(".pre-commit-config.yaml: %v %+v", err, cfg)
	}
	rev := cfg.Repos[0].Rev
	wf, _ := os.ReadFile(filepath.Join(dir, ".github", "workflows", "evctl.yaml"))
	pinned := regexp.MustCompile(`(?m)^  EVCTL_VERSION: (\S+)`).FindSubmatch(wf)
	changelog, err := os.ReadFile(filepath.Join("..", "..", "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	released := regexp.MustCompile(`(?m)^## \[(v?\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$`).FindSubmatch(changelog)
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(rev) || pinned == nil || string(pinned[1]) != rev || released == nil || "v"+trimV(string(released[1])) != rev {
		t.Fatalf("pre-commit rev %q, workflow EVCTL_VERSION %q, newest CHANGELOG release %q: want one release tag", rev, pinned, released)
	}
}

func trimV(s string) string {
	if len(s) > 0 && s[0] == 'v' {
		return s[1:]
	}
	return s
}
