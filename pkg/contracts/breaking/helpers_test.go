package breaking

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// testToday fixes waiver expiry in tests.
const testToday = "2026-06-01"

// bufBin finds buf for tests: EVCTL_BUF, else the repository's .tools/bin/buf. Missing buf fails
// the test with the install command: a skipped breaking test would hide a broken check.
func bufBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("EVCTL_BUF"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		t.Fatalf("EVCTL_BUF=%s does not exist; run `make tools` or %s", p, InstallCommand)
	}
	p, err := filepath.Abs(filepath.Join("..", "..", "..", ".tools", "bin", "buf"))
	if err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("buf is not installed: run `make tools` (scripts/install-tools.sh) or %s, or set EVCTL_BUF", InstallCommand)
	return ""
}

// projectYAML is the evctl.yaml of test repositories; platform is the platform_fields block.
func projectYAML(platform, extra string) string {
	if platform == "" {
		platform = defaultPlatform
	}
	return `version: 1
platform_fields:
` + platform + `teams:
  t: {pods: [p]}
environments:
  local:
    stages: [staging, prod]
    descriptors: {url: "file://descriptors"}
` + extra
}

const defaultPlatform = `  - {name: event_id, type: string, mode: required, number: 1000}
  - {name: event_time, type: timestamp, mode: required, number: 1001}
  - {name: app, type: string, number: 1003}
`

// ev writes contracts/d/e.yaml with the given stage, major and fields; more is appended (indent
// it two spaces to continue schema:, none for a top-level key).
func ev(stage string, major int, fields []string, more string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: e\ndomain: d\nowner: {team: t, pod: p}\ndescription: x\nstage: %s\nmajor: %d\nschema:\n  fields:\n", stage, major)
	for _, f := range fields {
		b.WriteString("    - " + f + "\n")
	}
	b.WriteString(more)
	return b.String()
}

// rawEv writes an upload-path event whose contract is contracts/d/e.proto, message M.
func rawEv(stage string) string {
	return fmt.Sprintf("name: e\ndomain: d\nowner: {team: t, pod: p}\ndescription: x\nstage: %s\nmajor: 1\nschema:\n  proto: {file: e.proto, message: M}\n", stage)
}

// writeRepo writes files (path → content) under dir; evctl.yaml defaults to projectYAML.
func writeRepo(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	if _, ok := files["evctl.yaml"]; !ok {
		files["evctl.yaml"] = projectYAML("", "")
	}
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

func openWS(t testing.TB, dir string) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	if ws.Diags.HasErrors() {
		t.Fatalf("test repository does not load:\n%v", diag.ListError(ws.Diags))
	}
	return ws
}

// checkRepos compares two repositories (path → content) with the real buf.
func checkRepos(t testing.TB, old, cur map[string]string) *Report {
	t.Helper()
	bdir, cdir := t.TempDir(), t.TempDir()
	writeRepo(t, bdir, old)
	writeRepo(t, cdir, cur)
	base := FromWorkspace("baseline", openWS(t, bdir), nil)
	rep, err := Check(context.Background(), Current{Workspace: openWS(t, cdir)}, base, Options{Buf: bufBin(t), Today: testToday})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// verdict is the sorted, unique rule IDs of failing, waived and warning findings.
func verdict(rep *Report) (failing, waived, warnings []string) {
	add := func(list []string, s string) []string {
		for _, x := range list {
			if x == s {
				return list
			}
		}
		return append(list, s)
	}
	for _, f := range rep.Findings() {
		switch {
		case f.Severity == diag.Warning:
			warnings = add(warnings, f.Rule)
		case f.Waived:
			waived = add(waived, f.Rule)
		default:
			failing = add(failing, f.Rule)
		}
	}
	sort.Strings(failing)
	sort.Strings(waived)
	sort.Strings(warnings)
	return
}

func dump(rep *Report) string {
	var b strings.Builder
	for _, e := range rep.Events {
		fmt.Fprintf(&b, "%s [%s]\n", e.Event, e.Status)
		for _, f := range e.Findings {
			fmt.Fprintf(&b, "  %s %s field=%q waived=%v %s: %s\n", f.Pos(), f.Rule, f.Field, f.Waived, f.Severity, f.Message)
		}
	}
	return b.String()
}
