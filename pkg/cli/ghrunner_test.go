package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// ghWorkflow is the part of a GitHub workflow ghRunner executes.
type ghWorkflow struct {
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		If    string   `yaml:"if"`
		Steps []ghStep `yaml:"steps"`
	} `yaml:"jobs"`
}

type ghStep struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
	If   string            `yaml:"if"`
}

// ghRunner runs a workflow's jobs the way a GitHub runner does, as far as a test can: every
// run: script goes through `bash --noprofile --norc -eo pipefail` (the workflow's shell: bash)
// with the workflow's and the step's env, ${{ }} expressions replaced from ctx (an expression
// it does not know fails the test, so it cannot drift from the workflow silently),
// $GITHUB_OUTPUT read back into steps.<id>.outputs, and the first failing step ending the job.
// The uses: steps are stood in for: checkout by the repository directory itself (cleaned of
// untracked and ignored files before each job, as a fresh checkout is), setup-go and the
// Google auth action by nothing (the test's stores are file://; the auth step's inputs are
// checked), upload/download-artifact by a directory. The step with id install (go install of
// the pinned evctl and buf) is replaced by the evctl built from this tree and the pinned buf
// of .tools/bin on PATH; its pins are checked instead.
type ghRunner struct {
	t         *testing.T
	wf        ghWorkflow
	repo      string
	artifacts string
	path      string // PATH for scripts
	base      map[string]string
}

// ghJobResult is how a job ended: FailedStep is "" when every step passed.
type ghJobResult struct {
	FailedStep string
	Code       int
	Log        string
	Summary    string
}

var ghExpr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

func newGHRunner(t *testing.T, workflowFile, repo, path string, base map[string]string) *ghRunner {
	t.Helper()
	raw, err := os.ReadFile(workflowFile)
	if err != nil {
		t.Fatal(err)
	}
	r := &ghRunner{t: t, repo: repo, artifacts: t.TempDir(), path: path, base: base}
	if err := yaml.Unmarshal(raw, &r.wf); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *ghRunner) subst(s string, ctx map[string]string) string {
	r.t.Helper()
	return ghExpr.ReplaceAllStringFunc(s, func(m string) string {
		key := ghExpr.FindStringSubmatch(m)[1]
		v, ok := ctx[key]
		if !ok {
			r.t.Fatalf("workflow expression ${{ %s }} is not known to the test runner", key)
		}
		return v
	})
}

// runJob runs job with ctx (matrix.*, secrets.*, vars.*, github.*). wantIf is the job's if:
// condition the caller asserts it is running under.
func (r *ghRunner) runJob(job, wantIf string, ctx map[string]string) ghJobResult {
	r.t.Helper()
	j, ok := r.wf.Jobs[job]
	if !ok {
		r.t.Fatalf("the workflow has no job %s", job)
	}
	if j.If != wantIf {
		r.t.Fatalf("job %s runs if %q, want %q", job, j.If, wantIf)
	}
	// A fresh checkout: nothing untracked or ignored survives from an earlier job.
	if out, err := exec.Command("git", "-C", r.repo, "clean", "-fdxq").CombinedOutput(); err != nil {
		r.t.Fatalf("git clean: %v %s", err, out)
	}
	ctx = maps.Clone(ctx)
	var log bytes.Buffer
	summary := filepath.Join(r.t.TempDir(), "summary.md")
	for _, st := range j.Steps {
		name := st.Name
		if name == "" {
			name = st.Uses + st.Run
		}
		if st.If != "" {
			r.t.Fatalf("job %s step %q has an if: the runner does not evaluate", job, name)
		}
		switch {
		case st.Uses != "":
			r.uses(job, st, ctx)
			continue
		case st.ID == "install":
			for _, pin := range []string{"github.com/evctl/evctl/cmd/evctl@${EVCTL_VERSION}", "github.com/bufbuild/buf/cmd/buf@${BUF_VERSION}"} {
				if !strings.Contains(st.Run, pin) {
					r.t.Fatalf("job %s install step does not install %s:\n%s", job, pin, st.Run)
				}
			}
			continue
		}
		script := filepath.Join(r.t.TempDir(), "step.sh")
		if err := os.WriteFile(script, []byte(r.subst(st.Run, ctx)), 0o644); err != nil {
			r.t.Fatal(err)
		}
		output := filepath.Join(r.t.TempDir(), "output")
		env := map[string]string{"PATH": r.path, "GITHUB_OUTPUT": output, "GITHUB_STEP_SUMMARY": summary,
			"CI": "true", "GITHUB_ACTIONS": "true", "HOME": r.t.TempDir()}
		for k, v := range r.base {
			env[k] = v
		}
		for k, v := range r.wf.Env {
			env[k] = r.subst(v, ctx)
		}
		for k, v := range st.Env {
			env[k] = r.subst(v, ctx)
		}
		c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(c, "bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Dir = r.repo
		cmd.Stdout, cmd.Stderr = &log, &log
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		fmt.Fprintf(&log, "::group::%s\n", name)
		err := cmd.Run()
		cancel()
		fmt.Fprintf(&log, "::endgroup::\n")
		if b, rerr := os.ReadFile(output); rerr == nil && st.ID != "" {
			for _, line := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					ctx["steps."+st.ID+".outputs."+k] = v
				}
			}
		}
		if err != nil {
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			s, _ := os.ReadFile(summary)
			return ghJobResult{FailedStep: name, Code: code, Log: log.String(), Summary: string(s)}
		}
	}
	s, _ := os.ReadFile(summary)
	return ghJobResult{Log: log.String(), Summary: string(s)}
}

// uses stands in for one action.
func (r *ghRunner) uses(job string, st ghStep, ctx map[string]string) {
	r.t.Helper()
	action, _, _ := strings.Cut(st.Uses, "@")
	with := map[string]string{}
	for k, v := range st.With {
		with[k] = r.subst(v, ctx)
	}
	switch action {
	case "actions/checkout", "actions/setup-go":
	case "google-github-actions/auth":
		if with["workload_identity_provider"] == "" || with["service_account"] == "" || with["credentials_json"] != "" {
			r.t.Fatalf("job %s: the auth step is not workload identity federation: %v", job, with)
		}
	case "actions/upload-artifact":
		dst := filepath.Join(r.artifacts, with["name"])
		if err := os.MkdirAll(dst, 0o755); err != nil {
			r.t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(r.repo, with["path"]))
		if err != nil {
			r.t.Fatalf("job %s: upload-artifact %s: %v", job, with["name"], err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(with["path"])), b, 0o644); err != nil {
			r.t.Fatal(err)
		}
	case "actions/download-artifact":
		entries, err := os.ReadDir(filepath.Join(r.artifacts, with["name"]))
		if err != nil || len(entries) == 0 {
			r.t.Fatalf("job %s: download-artifact %s: no such artifact (%v)", job, with["name"], err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(r.artifacts, with["name"], e.Name()))
			if err != nil {
				r.t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(r.repo, e.Name()), b, 0o644); err != nil {
				r.t.Fatal(err)
			}
		}
	default:
		r.t.Fatalf("job %s uses %s, which the test runner does not stand in for", job, st.Uses)
	}
}
