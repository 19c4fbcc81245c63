package scaffold_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/scaffold"
)

// tool finds a pinned tool scripts/install-tools.sh installs: on PATH, else in the module's
// .tools/bin. A missing tool fails the test: `make test` installs it.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p, err := filepath.Abs(filepath.Join("..", "..", "..", ".tools", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not installed (run scripts/install-tools.sh): %v", name, err)
	}
	return p
}

// TestInitWorkflowActionlint runs actionlint (with shellcheck over every run: script) on the
// workflow and the rest of .github/ that `evctl init` writes.
func TestInitWorkflowActionlint(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := scaffold.Init(dir); err != nil {
		t.Fatal(err)
	}
	shellcheck := tool(t, "shellcheck")
	cmd := exec.Command(tool(t, "actionlint"), "-shellcheck", shellcheck, "-color=false", filepath.Join(".github", "workflows", "evctl.yaml"))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}

// TestOwnWorkflowsActionlint runs actionlint on evctl's own workflows (CI and the release).
func TestOwnWorkflowsActionlint(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	cmd := exec.Command(tool(t, "actionlint"), "-shellcheck", tool(t, "shellcheck"), "-color=false",
		filepath.Join(".github", "workflows", "ci.yml"), filepath.Join(".github", "workflows", "release.yml"))
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}

// workflow is the part of a GitHub workflow the checks below read.
type workflow struct {
	Permissions map[string]string `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]struct {
		If          string            `yaml:"if"`
		Needs       any               `yaml:"needs"`
		Environment string            `yaml:"environment"`
		Permissions map[string]string `yaml:"permissions"`
		Concurrency struct {
			Group            string `yaml:"group"`
			CancelInProgress bool   `yaml:"cancel-in-progress"`
		} `yaml:"concurrency"`
		Strategy struct {
			Matrix map[string][]string `yaml:"matrix"`
		} `yaml:"strategy"`
		Steps []yaml.Node `yaml:"steps"`
	} `yaml:"jobs"`
}

// TestInitWorkflowShape checks what actionlint does not: every action pinned by a full commit
// SHA with its version in a comment, no write permission at the top, each job's permissions
// and concurrency group, prod behind its environment, buf pinned, and applies only of saved
// plans (never --auto-approve).
func TestInitWorkflowShape(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := scaffold.Init(dir); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ".github", "workflows", "evctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	uses := regexp.MustCompile(`(?m)uses:\s*(\S+)(.*)$`)
	pinned := regexp.MustCompile(`^[\w.-]+/[\w.-]+@[0-9a-f]{40}$`)
	version := regexp.MustCompile(`^\s+# v\d+\.\d+\.\d+$`)
	for _, m := range uses.FindAllStringSubmatch(string(raw), -1) {
		if !pinned.MatchString(m[1]) || !version.MatchString(m[2]) {
			t.Errorf("action %s%s: not pinned by commit SHA with a # vX.Y.Z comment", m[1], m[2])
		}
	}
	if strings.Contains(string(raw), "--auto-approve") || strings.Contains(string(raw), "@latest") {
		t.Error("the workflow applies without a saved plan or installs an unpinned version")
	}
	var wf workflow
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	if len(wf.Permissions) != 0 {
		t.Errorf("top-level permissions %v: want {} (each job asks for what it needs)", wf.Permissions)
	}
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(wf.Env["BUF_VERSION"]) || !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(wf.Env["EVCTL_VERSION"]) {
		t.Errorf("evctl and buf are not pinned: %v", wf.Env)
	}
	for name, want := range map[string]struct {
		env, group string
		perms      string
	}{
		"check":         {"", "", "contents=read"},
		"plan-pr":       {"", "evctl-plan-pr-${{ github.event.pull_request.number }}-${{ matrix.env }}", "contents=read id-token=write pull-requests=write"},
		"plan":          {"", "evctl-${{ matrix.env }}", "contents=read id-token=write"},
		"apply-staging": {"staging", "evctl-staging", "contents=read id-token=write"},
		"apply-prod":    {"prod", "evctl-prod", "contents=read id-token=write"},
	} {
		j, ok := wf.Jobs[name]
		if !ok {
			t.Errorf("no job %s", name)
			continue
		}
		var perms []string
		for _, k := range []string{"contents", "id-token", "pull-requests"} {
			if v, ok := j.Permissions[k]; ok {
				perms = append(perms, k+"="+v)
			}
		}
		if got := strings.Join(perms, " "); got != want.perms || len(perms) != len(j.Permissions) {
			t.Errorf("job %s permissions %v, want %s", name, j.Permissions, want.perms)
		}
		if j.Environment != want.env || j.Concurrency.Group != want.group {
			t.Errorf("job %s: environment %q concurrency %q, want %q %q", name, j.Environment, j.Concurrency.Group, want.env, want.group)
		}
	}
	for _, name := range []string{"plan-pr", "plan"} {
		if got := wf.Jobs[name].Strategy.Matrix["env"]; strings.Join(got, ",") != "staging,prod" {
			t.Errorf("job %s plans %v, want every environment of evctl.yaml (staging, prod)", name, got)
		}
	}
	if needs, _ := wf.Jobs["apply-prod"].Needs.([]any); len(needs) != 2 || needs[1] != "apply-staging" {
		t.Errorf("apply-prod needs %v: it must run after apply-staging", wf.Jobs["apply-prod"].Needs)
	}
}
