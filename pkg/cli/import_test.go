package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/control/state"
)

// TestImportCLI: `evctl import` on kfake. A topic made by hand under a contract's name (another
// retention) is blocked by plan; import --dry-run shows the diff and records nothing; import
// records it; the next plan updates it, apply does, and the plan after that is a noop. Unknown
// kinds, events and names exit 1 with a message saying which.
func TestImportCLI(t *testing.T) {
	e := newPAEnv(t)
	const topic = "local.feed.item_clicked.v1"
	cl, err := kgo.NewClient(e.kafkaOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	byHand := "3600000"
	resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), 2, -1, map[string]*string{"retention.ms": &byHand}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}

	_, out, _ := e.run("plan", "--env", "local")
	if !strings.Contains(out, topic) || !strings.Contains(out, "not created by this repository's evctl state") {
		t.Fatalf("plan before import:\n%s", out)
	}

	imp := []string{"import", "--env", "local", "kafka_topic", topic, "--event", "feed/item_clicked"}
	out, _ = e.mustRun(0, append(imp, "--dry-run")...)
	if !strings.Contains(out, `configs.retention.ms: "3600000" -> "86400000"`) || !strings.Contains(out, "dry run: nothing recorded") ||
		!strings.Contains(out, "the next plan: update") {
		t.Fatalf("import --dry-run:\n%s", out)
	}
	recorded := func() bool {
		st, _, err := state.Read(context.Background(), e.stateStore(), "local")
		if err != nil {
			t.Fatal(err)
		}
		_, ok := st.Resources[state.ResourceKey("kafka_topic", topic)]
		return ok
	}
	if recorded() {
		t.Fatal("import --dry-run recorded the topic")
	}
	out, _ = e.mustRun(0, imp...)
	if !strings.Contains(out, "imported: recorded in the state of local as owned") || !recorded() {
		t.Fatalf("import:\n%s", out)
	}

	action := func() string {
		out, _ := e.mustRun(0, "plan", "--env", "local", "-o", "json")
		var p struct {
			Changes []struct{ Kind, Name, Action string }
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Changes {
			if c.Kind == "kafka_topic" && c.Name == topic {
				return c.Action
			}
		}
		t.Fatalf("no %s in the plan:\n%s", topic, out)
		return ""
	}
	if got := action(); got != "update" {
		t.Fatalf("plan after import: %s, want update", got)
	}
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	if got := action(); got != "noop" {
		t.Fatalf("plan after apply: %s, want noop", got)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "--env", "local", "kafka_topik", topic, "--event", "feed/item_clicked"}, `unknown kind "kafka_topik"`},
		{[]string{"import", "--env", "local", "kafka_topic", topic, "--event", "feed/nope"}, `no event "feed/nope"`},
		{[]string{"import", "--env", "local", "kafka_topic", "local.feed.other.v1", "--event", "feed/item_clicked"}, `wants no kafka_topic named "local.feed.other.v1"`},
		{[]string{"import", "--env", "local", "kafka_topic", topic}, "--event is required"},
	} {
		_, errOut := e.mustRun(1, c.args...)
		if !strings.Contains(errOut, c.want) {
			t.Errorf("evctl %s: stderr %q, want %q", strings.Join(c.args, " "), errOut, c.want)
		}
	}
}
