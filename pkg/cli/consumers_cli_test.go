package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

const nudgesConsumer = `name: nudges
owner: {team: growth}
description: Nudges users who clicked.
events: [feed/item_clicked]
transform: '{"item": {{json .item_id}}}'
deliver:
  http: {url_env: NUDGES_URL}
`

// TestConsumerPlanApplyDescribe runs the commands a user runs on a consumer against kfake:
// plan lists its dead-letter topic and definition, apply creates them, describe
// consumer/nudges --env shows them ok, the definition published and current, and the group's
// lag once it has committed; removing the file plans deletes that wait for --allow-destroy.
func TestConsumerPlanApplyDescribe(t *testing.T) {
	e := newPAEnv(t)
	e.writeFile("consumers/nudges.yaml", nudgesConsumer)
	out, _ := e.mustRun(0, "plan", "--env", "local", "-o", "json")
	var p struct {
		Changes []struct{ Event, Kind, Name, Action string } `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Changes {
		if c.Kind == "consumer" {
			got = append(got, c.Event+" "+c.Name+" "+c.Action)
		}
	}
	slices.Sort(got)
	want := []string{"consumer/nudges consumers/nudges create", "consumer/nudges local.consumers.nudges.dlq create"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan consumer changes %v, want %v", got, want)
	}
	for _, format := range []string{"text", "markdown"} {
		text, _ := e.mustRun(0, "plan", "--env", "local", "-o", format)
		if !strings.Contains(text, "consumer/nudges") || !strings.Contains(text, "local.consumers.nudges.dlq") || !strings.Contains(text, "consumers/nudges") {
			t.Fatalf("plan -o %s does not show the consumer's resources:\n%s", format, text)
		}
		t.Logf("plan -o %s:\n%s", format, text)
	}
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")

	// The group commits an offset on the event's topic, as a route worker does.
	adm := kadmClient(t, e)
	topic := "local.feed.item_clicked.v1"
	cl, err := kgo.NewClient(append(adminOpts(e), kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for range 3 {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: 0, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(context.Background(), "evctl.local.consumer.nudges", offs); err != nil {
		t.Fatal(err)
	}

	out, _ = e.mustRun(0, "describe", "consumer/nudges", "--env", "local", "-o", "json")
	var r struct {
		Consumer  string `json:"consumer"`
		Group     string `json:"group"`
		Resources []struct{ Kind, Name, Status string }
		Hosted    []string `json:"hosted_events"`
		Published *struct {
			SHA256  string `json:"sha256"`
			Current bool   `json:"current"`
		} `json:"published"`
		Groups []struct {
			Group string `json:"group"`
			Lag   int64  `json:"lag"`
		} `json:"consumer_groups"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Consumer != "nudges" || r.Group != "evctl.local.consumer.nudges" || len(r.Resources) != 2 ||
		r.Published == nil || r.Published.SHA256 == "" || !r.Published.Current || len(r.Errors) != 0 ||
		!slices.Equal(r.Hosted, []string{"feed/item_clicked"}) {
		t.Fatalf("describe consumer/nudges --env local:\n%s", out)
	}
	for _, res := range r.Resources {
		if res.Status != "ok" {
			t.Fatalf("%s: %s, want ok\n%s", res.Name, res.Status, out)
		}
	}
	if len(r.Groups) != 1 || r.Groups[0].Lag != 3 {
		t.Fatalf("group lag: %+v, want 3 records behind\n%s", r.Groups, out)
	}
	text, _ := e.mustRun(0, "describe", "nudges", "--env", "local")
	if !strings.Contains(text, "(current)") || !strings.Contains(text, "lag 3") {
		t.Fatalf("describe text:\n%s", text)
	}

	// A changed template makes the published definition stale until apply.
	e.writeFile("consumers/nudges.yaml", strings.Replace(nudgesConsumer, `"item"`, `"id"`, 1))
	out, _ = e.mustRun(0, "describe", "consumer/nudges", "--env", "local", "-o", "json")
	if !strings.Contains(out, `"current": false`) {
		t.Fatalf("after a template change, describe says current:\n%s", out)
	}

	// Removed: deletes that wait for --allow-destroy.
	if err := os.Remove(filepath.Join(e.dir, "consumers", "nudges.yaml")); err != nil {
		t.Fatal(err)
	}
	out, _ = e.mustRun(0, "plan", "--env", "local", "-o", "json")
	if strings.Count(out, `"action": "delete"`) != 2 {
		t.Fatalf("plan after removing the consumer:\n%s", out)
	}
	e.mustRun(0, "apply", "--env", "local", "--auto-approve", "--allow-destroy")
	out, _ = e.mustRun(0, "plan", "--env", "local", "-o", "json")
	if strings.Contains(out, `"kind": "consumer"`) {
		t.Fatalf("plan after the deletes still has consumer resources:\n%s", out)
	}
}

func adminOpts(e *paEnv) []kgo.Opt {
	m, err := kafka.SASL{Mechanism: "SCRAM-SHA-256", User: e.vars["EVCTL_KAFKA_USER"], Password: e.vars["EVCTL_KAFKA_PASSWORD"]}.Franz()
	if err != nil {
		e.t.Fatal(err)
	}
	return []kgo.Opt{kgo.SeedBrokers(e.kc.Addrs...), kgo.SASL(m)}
}

func kadmClient(t *testing.T, e *paEnv) *kadm.Client {
	cl, err := kgo.NewClient(adminOpts(e)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// TestBreakingNamesConsumer: `evctl breaking --against HEAD~1` on a commit that removes a prod
// field (number and name reserved, so buf has nothing to say) that consumers/crm_nudges.yaml
// uses reports EVCTL_CONSUMER_FIELD_USED naming the consumer and where it uses the field.
func TestBreakingNamesConsumer(t *testing.T) {
	env := map[string]string{"EVCTL_BUF": brkBuf(t)}
	dir := t.TempDir()
	brkGit(t, dir, "init", "-q", "-b", "main")
	crm := "name: crm_nudges\nowner: {team: t}\nevents: [d/e]\ntransform: |\n  {\"a\": {{json .a}},\n   \"b\": {{json .b}}}\ndeliver:\n  http: {url_env: CRM_URL}\n"
	brkWrite(t, dir, map[string]string{"evctl.yaml": brkProject, "contracts/d/e.yaml": brkEvent("prod", brkFields, ""), "consumers/crm_nudges.yaml": crm})
	brkGit(t, dir, "add", "-A")
	brkGit(t, dir, "commit", "-q", "-m", "one")
	without := strings.Replace(brkFields, "    - {name: b, type: int64, number: 2}\n", "", 1)
	brkWrite(t, dir, map[string]string{"contracts/d/e.yaml": brkEvent("prod", without, "  reserved: [2, b]\n")})
	brkGit(t, dir, "commit", "-q", "-am", "two")
	code, out, stderr := brkRun(t, dir, env, "breaking", "--against", "HEAD~1")
	if code != 1 || !strings.Contains(out, "error EVCTL_CONSUMER_FIELD_USED (field b)") ||
		!strings.Contains(out, "consumer crm_nudges uses field b (consumers/crm_nudges.yaml:6:16)") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
}
