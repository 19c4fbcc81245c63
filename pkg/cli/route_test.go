package cli_test

import (
	"strings"
	"testing"
)

// TestRouteRefusesWhatItCannotRun: `evctl route` with no consumers in the repository, or naming a
// consumer that does not exist, exits 1 with a message saying so, before joining any group. The
// delivery itself is tested end to end in pkg/data/route (kfake and a loopback HTTP receiver).
func TestRouteRefusesWhatItCannotRun(t *testing.T) {
	e := newPAEnv(t)
	if _, errOut := e.mustRun(1, "route", "--env", "local"); !strings.Contains(errOut, "no consumers in consumers/") {
		t.Fatalf("route without consumers: %q", errOut)
	}
	if _, errOut := e.mustRun(1, "route", "--env", "local", "--consumer", "crm_nudges"); !strings.Contains(errOut, `no consumer "crm_nudges"`) {
		t.Fatalf("route --consumer unknown: %q", errOut)
	}
	if _, errOut := e.mustRun(1, "route"); !strings.Contains(errOut, `"env"`) {
		t.Fatalf("route without --env: %q", errOut)
	}
}
