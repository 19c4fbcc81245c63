package cli_test

import (
	"strings"
	"testing"
)

// TestRouteRefusesWhatItCannotRun: `evctl route` with no consumers published to the environment
// (apply never ran), or naming a consumer that is not published, exits 1 with a message saying so, before joining any group. The
// delivery itself is tested end to end in pkg/data/route (kfake and a loopback HTTP receiver).
func TestRouteRefusesWhatItCannotRun(t *testing.T) {
	e := newPAEnv(t)
	if _, errOut := e.mustRun(1, "route", "--env", "local"); !strings.Contains(errOut, "no consumers are published") {
		t.Fatalf("route without consumers: %q", errOut)
	}
	if _, errOut := e.mustRun(1, "route", "--env", "local", "--consumer", "crm_nudges"); !strings.Contains(errOut, `consumer "crm_nudges" is not published`) {
		t.Fatalf("route --consumer unknown: %q", errOut)
	}
	if _, errOut := e.mustRun(1, "route"); !strings.Contains(errOut, `"env"`) {
		t.Fatalf("route without --env: %q", errOut)
	}
}
