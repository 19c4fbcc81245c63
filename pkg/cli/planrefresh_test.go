package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestPlanRefreshCLI on kfake: a topic config changed by hand after an apply is not read by
// `plan` (--refresh=fast, the default: the topic is unchanged in the repository and still
// listed) and is by `plan --refresh=full`, which exits 2 with the update and its drift; `drift`
// reads everything; a saved plan reads everything unless told otherwise; a bad value is refused.
func TestPlanRefreshCLI(t *testing.T) {
	e := newPAEnv(t)
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	const topic = "local.feed.item_viewed.v1"
	res, err := admin(t, e.kc).AlterTopicConfigs(t.Context(), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("1000")}}, topic)
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	e.mustRun(0, "plan", "--env", "local", "--detailed-exitcode")
	out, _ := e.mustRun(2, "plan", "--env", "local", "--detailed-exitcode", "--refresh=full", "-o", "json")
	var p struct {
		Changes []struct{ Kind, Name, Action string }
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	updated := false
	for _, c := range p.Changes {
		updated = updated || (c.Kind == "kafka_topic" && c.Name == topic && c.Action == "update")
	}
	if !updated {
		t.Fatalf("plan --refresh=full does not update %s:\n%s", topic, out)
	}
	if !strings.Contains(out, "changed outside evctl") {
		t.Fatalf("plan --refresh=full reports no drift:\n%s", out)
	}
	e.mustRun(2, "drift", "--env", "local")
	_, errOut := e.mustRun(0, "plan", "--env", "local", "--out", "saved.evplan")
	if !strings.Contains(errOut, "saved the plan") {
		t.Fatalf("plan --out: %q", errOut)
	}
	out, _ = e.mustRun(0, "apply", "saved.evplan")
	if !strings.Contains(out, "0 failed") {
		t.Fatalf("apply saved.evplan:\n%s", out)
	}
	e.mustRun(0, "plan", "--env", "local", "--detailed-exitcode", "--refresh=full")
	if _, errOut := e.mustRun(1, "plan", "--env", "local", "--refresh=sometimes"); !strings.Contains(errOut, "want fast or full") {
		t.Fatalf("--refresh=sometimes: %q", errOut)
	}
}
