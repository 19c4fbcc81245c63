package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/cli"
	"github.com/evctl/evctl/pkg/contracts/breaking"
	"github.com/evctl/evctl/pkg/contracts/compile"
)

// testBuf finds buf for tests (EVCTL_BUF, else .tools/bin/buf); missing buf fails the test.
func brkBuf(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EVCTL_BUF"); p != "" {
		return p
	}
	p, _ := filepath.Abs(filepath.Join("..", "..", ".tools", "bin", "buf"))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("buf is not installed: run `make tools` or %s, or set EVCTL_BUF", breaking.InstallCommand)
	}
	return p
}

// runWithEnv runs evctl in-process in dir with the given environment variables.
func brkRun(t *testing.T, dir string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
		Getenv: func(k string) string { return env[k] }, WorkDir: dir}
	code := cli.Run(context.Background(), io, args)
	return code, out.String(), errOut.String()
}

const brkProject = `version: 1
platform_fields:
  - {name: event_id, type: string, mode: required, number: 1000}
teams:
  t: {pods: [p]}
environments:
  local: {stages: [staging, prod], descriptors: {url: "file://descriptors"}}
`

func brkEvent(stage, fields, more string) string {
	return "# the e event\nname: e\ndomain: d\nowner: {team: t, pod: p}\ndescription: x\nstage: " + stage +
		"\nmajor: 1\nschema:\n  fields:\n" + fields + more
}

const brkFields = "    - {name: a, type: string, number: 1}\n    - {name: b, type: int64, number: 2}\n    - {name: exp, type: string, number: 3, stage: staging}\n"

func brkWrite(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func brkGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestBreakingCommandAgainstGit(t *testing.T) {
	env := map[string]string{"EVCTL_BUF": brkBuf(t)}
	dir := t.TempDir()
	brkGit(t, dir, "init", "-q", "-b", "main")
	brkWrite(t, dir, map[string]string{"evctl.yaml": brkProject, "contracts/d/e.yaml": brkEvent("prod", brkFields, "")})
	brkGit(t, dir, "add", "-A")
	brkGit(t, dir, "commit", "-q", "-m", "one")

	if code, out, stderr := brkRun(t, dir, env, "breaking", "--against", "HEAD"); code != 0 || out != "" || !strings.Contains(stderr, "0 breaking") {
		t.Fatalf("no change: exit %d\n%s\n%s", code, out, stderr)
	}

	broken := strings.Replace(brkFields, "type: int64", "type: string", 1)
	brkWrite(t, dir, map[string]string{"contracts/d/e.yaml": brkEvent("prod", broken, "")})
	brkGit(t, dir, "commit", "-q", "-am", "two")

	code, out, stderr := brkRun(t, dir, env, "breaking", "--against", "HEAD~1")
	if code != 1 || !strings.Contains(out, "contracts/d/e.yaml:11:7: error FIELD_WIRE_JSON_COMPATIBLE_TYPE (field b)") ||
		!strings.Contains(out, "fix: a prod field keeps its type") || !strings.Contains(stderr, "1 breaking change(s)") {
		t.Fatalf("text: exit %d\n%s\n%s", code, out, stderr)
	}

	code, out, _ = brkRun(t, dir, env, "breaking", "--against", "HEAD~1", "-o", "json")
	var js struct {
		Findings []map[string]any `json:"findings"`
		Summary  map[string]int   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || code != 1 {
		t.Fatalf("json: exit %d %v\n%s", code, err, out)
	}
	f := js.Findings[0]
	for k, want := range map[string]any{"event": "d/e", "field": "b", "rule": "FIELD_WIRE_JSON_COMPATIBLE_TYPE", "file": "contracts/d/e.yaml", "line": 11.0, "waived": false} {
		if f[k] != want {
			t.Errorf("json %s = %v, want %v", k, f[k], want)
		}
	}
	for _, k := range []string{"column", "message", "hint"} {
		if _, ok := f[k]; !ok {
			t.Errorf("json finding has no %s", k)
		}
	}
	if js.Summary["breaking"] != 1 || js.Summary["checked"] != 1 {
		t.Errorf("summary %v", js.Summary)
	}

	code, out, _ = brkRun(t, dir, env, "breaking", "--against", "HEAD~1", "--format", "github")
	if code != 1 || !strings.HasPrefix(out, "::error file=contracts/d/e.yaml,line=11,col=7,title=FIELD_WIRE_JSON_COMPATIBLE_TYPE::d/e (field b): ") {
		t.Fatalf("github: exit %d\n%s", code, out)
	}

	// A reviewed waiver lets exactly that finding through: exit 0, reported as waived.
	waiver := "waivers:\n  - {rule: FIELD_WIRE_JSON_COMPATIBLE_TYPE, field: b, reason: no consumers, approved_by: '@data', expires: 2999-01-01}\n"
	brkWrite(t, dir, map[string]string{"contracts/d/e.yaml": brkEvent("prod", broken, waiver)})
	code, out, _ = brkRun(t, dir, env, "breaking", "--against", "HEAD~1")
	if code != 0 || !strings.Contains(out, "waived FIELD_WIRE_JSON_COMPATIBLE_TYPE") {
		t.Fatalf("waived: exit %d\n%s", code, out)
	}

	// Without buf, a changed prod contract is blocked with the install command.
	code, _, stderr = brkRun(t, dir, map[string]string{"EVCTL_BUF": filepath.Join(dir, "missing-buf")}, "breaking", "--against", "HEAD~1")
	if code != 1 || !strings.Contains(stderr, breaking.InstallCommand) {
		t.Fatalf("buf missing: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := brkRun(t, dir, env, "breaking", "--against", "nope"); code != 1 || !strings.Contains(stderr, `"nope"`) {
		t.Fatalf("bad ref: exit %d %s", code, stderr)
	}
	if code, _, stderr := brkRun(t, dir, env, "breaking"); code != 1 || !strings.Contains(stderr, "--against") {
		t.Fatalf("no --against: exit %d %s", code, stderr)
	}
}

func TestBreakingCommandAgainstFileAndEnv(t *testing.T) {
	env := map[string]string{"EVCTL_BUF": brkBuf(t)}
	dir := t.TempDir()
	brkWrite(t, dir, map[string]string{"evctl.yaml": brkProject, "contracts/d/e.yaml": brkEvent("prod", brkFields, "")})
	if code, _, stderr := brkRun(t, dir, env, "build", "-o", "base.binpb"); code != 0 {
		t.Fatalf("build: %s", stderr)
	}
	set, err := os.ReadFile(filepath.Join(dir, "base.binpb"))
	if err != nil {
		t.Fatal(err)
	}
	sum := compile.SHA256(set)
	brkWrite(t, dir, map[string]string{
		"descriptors/sets/" + sum + ".binpb": string(set),
		"descriptors/index.json":             `{"events":{"d/e":{"message":"events.d.v1.E","topic":"local.d.e.v1","sha256":"` + sum + `","stage":"prod"}}}`,
	})
	// Removing field b without reserving it breaks; editing the staging field does not.
	brkWrite(t, dir, map[string]string{"contracts/d/e.yaml": brkEvent("prod",
		"    - {name: a, type: string, number: 1}\n    - {name: exp, type: int64, number: 3, stage: staging}\n", "")})
	for _, against := range []string{"base.binpb", "env:local"} {
		code, out, stderr := brkRun(t, dir, env, "breaking", "--against", against, "-o", "json")
		if code != 1 || !strings.Contains(out, "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED") || strings.Contains(out, `"field": "exp"`) {
			t.Fatalf("--against %s: exit %d\n%s\n%s", against, code, out, stderr)
		}
	}
	if code, _, stderr := brkRun(t, dir, env, "breaking", "--against", "gone.binpb"); code != 1 || !strings.Contains(stderr, "does not exist") {
		t.Fatalf("missing file: exit %d %s", code, stderr)
	}
}
