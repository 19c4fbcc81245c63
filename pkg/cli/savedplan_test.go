package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/evctl/evctl/pkg/control/plan"
)

// TestSavedPlan on kfake: `plan --out` saves the plan with the state generation; `apply FILE`
// applies exactly it without asking (stdin is no terminal and there is no --auto-approve); the
// same file again is refused because the state moved; a plan saved before a change by hand to a
// live topic is refused, naming the resource, and changes nothing. A tampered or foreign file
// and a mismatched --env are refused too.
func TestSavedPlan(t *testing.T) {
	e := newPAEnv(t)
	first := filepath.Join(e.dir, "first.evplan")
	_, errOut := e.mustRun(0, "plan", "--env", "local", "--out", "first.evplan")
	if !strings.Contains(errOut, "saved the plan to") {
		t.Fatalf("plan --out: %q", errOut)
	}
	b, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	s, err := plan.ReadSaved(b)
	if err != nil || s.Env != "local" || s.StateGeneration != "" || s.Plan.Summary.Create != 10 {
		t.Fatalf("saved plan: %v %+v", err, s)
	}

	out, _ := e.mustRun(0, "apply", "first.evplan")
	if !strings.Contains(out, "Apply local: 10 ok, 0 failed, 0 blocked, 0 skipped") {
		t.Fatalf("apply first.evplan:\n%s", out)
	}
	_, errOut = e.mustRun(1, "apply", "first.evplan")
	if !strings.Contains(errOut, `the state of "local" changed since the plan was saved`) {
		t.Fatalf("the same plan twice: %q", errOut)
	}

	// A plan with a change in it, then the live topic changed by hand before the apply.
	e.writeFile("contracts/feed/item_clicked.yaml", paEvent("item_clicked", "2d"))
	e.mustRun(0, "plan", "--env", "local", "--out", "second.evplan")
	admin := admin(t, e.kc)
	const topic = "local.feed.item_viewed.v1"
	res, err := admin.AlterTopicConfigs(t.Context(), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("1000")}}, topic)
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	_, errOut = e.mustRun(1, "apply", "second.evplan")
	if !strings.Contains(errOut, "the live systems or the repository changed since the plan was saved") ||
		!strings.Contains(errOut, "kafka_topic/"+topic+": saved noop, now update") {
		t.Fatalf("apply after a change by hand: %q", errOut)
	}
	cfg, err := admin.DescribeTopicConfigs(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := cfg.On(topic, nil)
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.MaybeValue() != "1000" {
			t.Fatalf("a refused saved plan changed %s: retention.ms %s", topic, c.MaybeValue())
		}
	}

	// A fresh plan of the same change applies.
	e.mustRun(0, "plan", "--env", "local", "--out", "third.evplan")
	if _, errOut := e.mustRun(1, "apply", "third.evplan", "--env", "prod"); !strings.Contains(errOut, `the saved plan is for environment "local", not "prod"`) {
		t.Fatalf("--env mismatch: %q", errOut)
	}
	out, _ = e.mustRun(0, "apply", "third.evplan")
	if !strings.Contains(out, "0 failed") {
		t.Fatalf("apply third.evplan:\n%s", out)
	}
	e.mustRun(0, "plan", "--env", "local", "--detailed-exitcode")

	// A saved plan edited by hand, or not a plan at all.
	b, _ = os.ReadFile(filepath.Join(e.dir, "third.evplan"))
	e.writeFile("edited.evplan", strings.Replace(string(b), `"action": "update"`, `"action": "delete"`, 1))
	if _, errOut := e.mustRun(1, "apply", "edited.evplan"); !strings.Contains(errOut, "was edited after it was written") {
		t.Fatalf("edited plan: %q", errOut)
	}
	e.writeFile("junk.evplan", "{}")
	if _, errOut := e.mustRun(1, "apply", "junk.evplan"); !strings.Contains(errOut, "saved plan format") {
		t.Fatalf("junk plan: %q", errOut)
	}
}
