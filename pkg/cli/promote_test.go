package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPromoteCommand(t *testing.T) {
	dir := t.TempDir()
	brkWrite(t, dir, map[string]string{"evctl.yaml": brkProject, "contracts/d/e.yaml": brkEvent("staging", brkFields, "")})
	path := filepath.Join(dir, "contracts/d/e.yaml")

	if code, _, stderr := brkRun(t, dir, nil, "promote", "d/e", "--field", "exp"); code != 1 || !strings.Contains(stderr, "promote the event first") {
		t.Fatalf("field of a staging event: exit %d %s", code, stderr)
	}
	code, out, stderr := brkRun(t, dir, nil, "promote", "d/e")
	if code != 0 || !strings.Contains(out, "contracts/d/e.yaml:6: event staging → prod") || !strings.Contains(stderr, "evctl generate") {
		t.Fatalf("promote: exit %d\n%s\n%s", code, out, stderr)
	}
	got, _ := os.ReadFile(path)
	if string(got) != brkEvent("prod", brkFields, "") {
		t.Fatalf("file:\n%s", got)
	}
	code, out, _ = brkRun(t, dir, nil, "promote", "e", "--field", "exp", "-o", "json")
	if code != 0 || !strings.Contains(out, `"path":"schema.fields[2].stage"`) {
		t.Fatalf("promote field: exit %d\n%s", code, out)
	}
	got, _ = os.ReadFile(path)
	if !strings.Contains(string(got), "number: 3, stage: prod}") || !strings.HasPrefix(string(got), "# the e event\n") {
		t.Fatalf("file:\n%s", got)
	}
	if code, out, _ := brkRun(t, dir, nil, "promote", "d/e"); code != 0 || !strings.Contains(out, "already prod") {
		t.Fatalf("again: exit %d %s", code, out)
	}

	// Lint errors in the event refuse the promotion and leave the file alone.
	bad := brkEvent("staging", "    - {name: a, type: strnig, number: 1}\n", "")
	brkWrite(t, dir, map[string]string{"contracts/d/e.yaml": bad})
	if code, _, stderr := brkRun(t, dir, nil, "promote", "d/e"); code != 1 || !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "FIELD_TYPE") {
		t.Fatalf("lint errors: exit %d %s", code, stderr)
	}
	if got, _ := os.ReadFile(path); string(got) != bad {
		t.Fatal("a refused promotion changed the file")
	}
	if code, _, stderr := brkRun(t, dir, nil, "promote", "d/nope"); code != 1 || !strings.Contains(stderr, `no event "d/nope"`) {
		t.Fatalf("unknown event: exit %d %s", code, stderr)
	}
}
