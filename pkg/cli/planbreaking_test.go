package cli_test

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestPlanBlocksBreakingProdChange: a prod event applied, then a field's type changed in the
// repo; the plan checks it against what the environment published, blocks every change of that
// event with buf's rule, and exits 1; a staging event changes freely. Runs the real buf.
func TestPlanBlocksBreakingProdChange(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	e := newPAEnv(t)
	e.vars["EVCTL_BUF"] = filepath.Join(filepath.Dir(file), "..", "..", ".tools", "bin", "buf")
	prod := strings.Replace(paEvent("item_clicked", "1d"), "stage: staging", "stage: prod", 1)
	e.writeFile("contracts/feed/item_clicked.yaml", prod)
	e.mustRun(0, "generate")
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")

	// A breaking change (string → int64) plus a retention change on the prod event, and a type
	// change on the staging event.
	broken := strings.Replace(prod, "{name: item_id, type: string", "{name: item_id, type: int64", 1)
	broken = strings.Replace(broken, "retention: 1d", "retention: 2d", 1)
	e.writeFile("contracts/feed/item_clicked.yaml", broken)
	e.writeFile("contracts/feed/item_viewed.yaml", strings.Replace(paEvent("item_viewed", "7d"), "type: string", "type: int64", 1))

	out, _ := e.mustRun(1, "plan", "--env", "local", "-o", "json")
	var p struct {
		Changes  []struct{ Event, Kind, Action, Reason string }
		Breaking []struct{ Event, Field, Rule string }
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, out)
	}
	if len(p.Breaking) == 0 || p.Breaking[0].Event != "feed/item_clicked" || p.Breaking[0].Field != "item_id" || p.Breaking[0].Rule != "FIELD_WIRE_JSON_COMPATIBLE_TYPE" {
		t.Fatalf("breaking = %+v; want FIELD_WIRE_JSON_COMPATIBLE_TYPE (buf WIRE_JSON) on feed/item_clicked item_id", p.Breaking)
	}
	blocked, stagingChanged := 0, false
	for _, c := range p.Changes {
		switch {
		case c.Event == "feed/item_clicked" && c.Action != "noop":
			if c.Action != "blocked" || !strings.Contains(c.Reason, "FIELD_WIRE_JSON_COMPATIBLE_TYPE") {
				t.Errorf("%s %s: action %s (%s); want blocked by FIELD_WIRE_JSON_COMPATIBLE_TYPE", c.Event, c.Kind, c.Action, c.Reason)
			}
			blocked++
		case c.Event == "feed/item_viewed" && c.Kind == "descriptor":
			stagingChanged = c.Action == "update"
		}
	}
	if blocked < 2 { // the descriptor and the topic's retention
		t.Errorf("want the prod event's descriptor and topic changes blocked, got %d blocked", blocked)
	}
	if !stagingChanged {
		t.Errorf("the staging event's type change must plan as an update, not be blocked")
	}
}
