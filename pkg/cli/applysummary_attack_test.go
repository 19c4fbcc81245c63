package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAttackApplySummaryOmitsBlocked: an apply whose resources are blocked says how many in its
// summary line (it exits 1 for them, so the line must not read "0 failed" alone).
func TestAttackApplySummaryOmitsBlocked(t *testing.T) {
	e := newPAEnv(t)
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	// Lose the state: everything live becomes unrecorded, which evctl refuses to claim.
	path := filepath.Join(e.dir, ".evctl", "state", "local", "resources.json")
	if err := os.WriteFile(path, []byte(`{`), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustRun(0, "state", "repair", "--env", "local")
	out, _ := e.mustRun(1, "apply", "--env", "local", "--auto-approve")
	m := regexp.MustCompile(`Apply local: \d+ ok, \d+ failed, (\d+) blocked, \d+ skipped`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Fatalf("summary without the blocked count:\n%s", out)
	}
	if !strings.Contains(out, "blocked ") {
		t.Errorf("blocked resources not marked:\n%s", out)
	}
}
