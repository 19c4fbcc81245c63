package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/evctl/evctl/pkg/cli"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// paEnv is a contracts repository whose local environment is a kfake cluster (SASL and ACLs
// on) and file:// stores under the repository; evctl runs in-process on buffers.
type paEnv struct {
	t    *testing.T
	dir  string
	kc   *kafkatest.Cluster
	vars map[string]string
	// outputs collects everything every command printed, for the secrets check.
	outputs bytes.Buffer
}

const paConfig = `version: 1
naming:
  topic: "{env}.{domain}.{event}.v{major}"
  bigquery_table: "{domain}__{event}_v{major}"
  proto_package: "events.{domain}.v{major}"
platform_fields:
  - {name: event_id,   type: string,    mode: required, number: 1000}
  - {name: event_time, type: timestamp, mode: required, number: 1001}
teams:
  growth:    {pods: [feed], github: ["@acme/growth"]}
  analytics: {pods: [core], github: ["@acme/analytics"]}
environments:
  local:
    stages: [staging, prod]
    kafka: {brokers: [%q], sasl: {mechanism: SCRAM-SHA-256, user_env: EVCTL_KAFKA_USER, password_env: EVCTL_KAFKA_PASSWORD}}
    descriptors: {url: "file://.evctl/descriptors"}
    state: {url: "file://.evctl/state"}
    credentials_dir: .evctl/credentials
`

func paEvent(name, retention string) string {
	return fmt.Sprintf(`name: %s
domain: feed
owner: {team: growth, pod: feed}
description: A test event.
stage: staging
major: 1
schema:
  fields:
    - {name: item_id, type: string, mode: required, number: 1}
sinks:
  kafka: {partitions: 2, retention: %s}
access: {producers: [growth], consumers: [analytics]}
`, name, retention)
}

func newPAEnv(t *testing.T) *paEnv {
	t.Helper()
	kc := kafkatest.Start(t)
	e := &paEnv{t: t, dir: t.TempDir(), kc: kc,
		vars: map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword}}
	e.writeFile("evctl.yaml", fmt.Sprintf(paConfig, kc.Addrs[0]))
	e.writeFile("contracts/feed/item_clicked.yaml", paEvent("item_clicked", "1d"))
	e.writeFile("contracts/feed/item_viewed.yaml", paEvent("item_viewed", "7d"))
	return e
}

func (e *paEnv) writeFile(rel, content string) {
	e.t.Helper()
	p := filepath.Join(e.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// run runs evctl with args and a non-terminal stdin.
func (e *paEnv) run(args ...string) (int, string, string) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	io := &cli.IOStreams{In: strings.NewReader("yes\n"), Out: &out, ErrOut: &errOut,
		Getenv: func(k string) string { return e.vars[k] }, WorkDir: e.dir}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := cli.Run(ctx, io, args)
	e.outputs.Write(out.Bytes())
	e.outputs.Write(errOut.Bytes())
	return code, out.String(), errOut.String()
}

// mustRun runs evctl and fails the test unless it exits with want.
func (e *paEnv) mustRun(want int, args ...string) (string, string) {
	e.t.Helper()
	code, out, errOut := e.run(args...)
	if code != want {
		e.t.Fatalf("evctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

func (e *paEnv) stateStore() blob.Store {
	e.t.Helper()
	s, err := blob.Open(context.Background(), "file://"+filepath.Join(e.dir, ".evctl", "state"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkPlanJSON checks the SPEC section 4 shape of `plan -o json` and returns the summary.
// "unmanaged" (resources under the managed naming this repo does not own), "errors" (resources
// that could not be read, omitted when none) and summary "skipped" are evctl's additions.
func checkPlanJSON(t *testing.T, out string) (summary map[string]any, changes []any) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("plan -o json is not one JSON object: %v\n%s", err, out)
	}
	if got, want := keysOf(doc), []string{"breaking", "changes", "drift", "env", "summary", "unmanaged"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("plan keys %v, want %v", got, want)
	}
	if doc["env"] != "local" {
		t.Fatalf("env = %v", doc["env"])
	}
	summary = doc["summary"].(map[string]any)
	if got, want := keysOf(summary), []string{"blocked", "create", "delete", "noop", "replace", "skipped", "update"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("summary keys %v, want %v", got, want)
	}
	for _, k := range []string{"breaking", "drift", "unmanaged"} {
		if _, ok := doc[k].([]any); !ok {
			t.Fatalf("%s is %T, want an array (never null)", k, doc[k])
		}
	}
	changes = doc["changes"].([]any)
	for _, c := range changes {
		c := c.(map[string]any)
		if got, want := keysOf(c), []string{"action", "diff", "event", "kind", "name", "reason"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("change keys %v, want %v", got, want)
		}
		for _, d := range c["diff"].([]any) {
			if got, want := keysOf(d.(map[string]any)), []string{"from", "path", "to"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("diff keys %v, want %v", got, want)
			}
		}
	}
	return summary, changes
}

func TestPlanApplyStatusCLI(t *testing.T) {
	e := newPAEnv(t)
	const resources = 2*4 + 2 // descriptor, topic, ACL, dead-letter topic per event; two team users

	out, _ := e.mustRun(0, "plan", "--env", "local", "-o", "json")
	summary, changes := checkPlanJSON(t, out)
	if summary["create"] != float64(resources) || len(changes) != resources {
		t.Fatalf("plan from empty: summary %v, %d changes", summary, len(changes))
	}
	var topic map[string]any
	for _, c := range changes {
		if c := c.(map[string]any); c["kind"] == "kafka_topic" && c["name"] == "local.feed.item_clicked.v1" {
			topic = c
		}
	}
	wantTopic := map[string]any{"event": "feed/item_clicked", "kind": "kafka_topic", "name": "local.feed.item_clicked.v1",
		"action": "create", "reason": "", "diff": []any{
			map[string]any{"path": "partitions", "from": "", "to": "2"},
			map[string]any{"path": "configs.retention.ms", "from": "", "to": "86400000"},
		}}
	if !reflect.DeepEqual(topic, wantTopic) {
		t.Fatalf("topic change %v\nwant %v", topic, wantTopic)
	}

	e.mustRun(2, "plan", "--env", "local", "--detailed-exitcode")
	out, _ = e.mustRun(0, "plan", "--env", "local")
	if !strings.Contains(out, "  + kafka_topic     local.feed.item_clicked.v1  (feed/item_clicked)") ||
		!strings.Contains(out, "Plan: 10 to create, 0 to update") {
		t.Fatalf("text plan:\n%s", out)
	}
	out, _ = e.mustRun(0, "plan", "--env", "local", "-o", "markdown")
	if !strings.Contains(out, "### evctl plan: `local`") || !strings.Contains(out, "<summary><code>feed/item_clicked</code>: 4 create</summary>") || !strings.Contains(out, "| create | kafka_topic | `local.feed.item_clicked.v1` | `partitions` = `2`<br>`configs.retention.ms` = `86400000` |") {
		t.Fatalf("markdown plan:\n%s", out)
	}

	// Not a terminal and no --auto-approve: refuse, change nothing.
	_, errOut := e.mustRun(1, "apply", "--env", "local")
	if !strings.Contains(errOut, "stdin is not a terminal") || !strings.Contains(errOut, "--auto-approve") {
		t.Fatalf("apply without --auto-approve: %q", errOut)
	}
	if out, _ := e.mustRun(0, "status", "--env", "local"); !strings.Contains(out, "nothing recorded") {
		t.Fatalf("status after a refused apply:\n%s", out)
	}

	out, _ = e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	if !strings.Contains(out, "Apply local: 10 ok, 0 failed, 0 blocked, 0 skipped") {
		t.Fatalf("apply:\n%s", out)
	}
	e.mustRun(0, "plan", "--env", "local", "--detailed-exitcode")
	out, _ = e.mustRun(0, "plan", "--env", "local", "-o", "json")
	if summary, _ := checkPlanJSON(t, out); summary["noop"] != float64(resources) {
		t.Fatalf("re-plan summary %v", summary)
	}

	out, _ = e.mustRun(0, "status", "--env", "local", "-o", "json")
	var st struct {
		Env       string         `json:"env"`
		Resources []state.Record `json:"resources"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if st.Env != "local" || len(st.Resources) != resources {
		t.Fatalf("status: %+v", st)
	}
	for _, r := range st.Resources {
		if r.Status != state.StatusOK || r.Time.IsZero() || r.Hash == "" {
			t.Errorf("status of %s: %+v", r.Key(), r)
		}
	}
	out, _ = e.mustRun(0, "status", "--env", "local", "item_viewed")
	if strings.Contains(out, "item_clicked") || !strings.Contains(out, "local.feed.item_viewed.v1") {
		t.Fatalf("status for one event:\n%s", out)
	}
	e.mustRun(0, "drift", "--env", "local")

	// Drift by hand: exit 2 naming it.
	adm := admin(t, e.kc)
	res, err := adm.AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("1000")}}, "local.feed.item_viewed.v1")
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	out, _ = e.mustRun(2, "drift", "--env", "local")
	if !strings.Contains(out, `configs.retention.ms is "1000" live, "604800000" in the repo`) {
		t.Fatalf("drift:\n%s", out)
	}
	out, _ = e.mustRun(0, "apply", "--env", "local", "--auto-approve", "-o", "json")
	var rep struct {
		Results []map[string]any `json:"results"`
		Audit   string           `json:"audit_id"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Audit == "" || len(rep.Results) != resources {
		t.Fatalf("apply -o json: %v\n%s", err, out)
	}

	checkNoSecrets(t, e)
}

// checkNoSecrets greps every byte evctl printed and stored for the admin password and the
// team passwords it generated.
func checkNoSecrets(t *testing.T, e *paEnv) {
	t.Helper()
	secrets := map[string]string{"admin password": e.kc.AdminPassword}
	creds, err := filepath.Glob(filepath.Join(e.dir, ".evctl", "credentials", "*.password"))
	if err != nil || len(creds) != 2 {
		t.Fatalf("team credentials %v, %v; want two", creds, err)
	}
	for _, p := range creds {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		secrets[filepath.Base(p)] = strings.TrimSpace(string(b))
	}
	check := func(where string, data []byte) {
		for name, s := range secrets {
			if len(s) < 8 {
				t.Fatalf("%s is suspiciously short", name)
			}
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("the %s appears in %s", name, where)
			}
		}
	}
	check("command output", e.outputs.Bytes())
	n := 0
	for _, d := range []string{"state", "descriptors"} {
		err := filepath.WalkDir(filepath.Join(e.dir, ".evctl", d), func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n++
			check(p, b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	audits, _ := filepath.Glob(filepath.Join(e.dir, ".evctl", "state", "local", "audit", "*.json"))
	if n == 0 || len(audits) == 0 {
		t.Fatalf("nothing stored to check (%d objects, %d audit records)", n, len(audits))
	}
}

func admin(t *testing.T, kc *kafkatest.Cluster) *kadm.Client {
	t.Helper()
	c, err := kafka.Connect(context.Background(), kafka.Config{Brokers: kc.Addrs,
		SASL: kafka.SASL{Mechanism: kafkatest.Mechanism, User: kafkatest.AdminUser, Password: kc.AdminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.Admin()
}

// TestApplyLockedCLI: an apply while the environment is locked exits 1 naming the holder;
// `evctl unlock` removes the lock and the next apply goes through.
func TestApplyLockedCLI(t *testing.T) {
	e := newPAEnv(t)
	if _, err := state.Acquire(context.Background(), e.stateStore(), "local", state.LockOptions{Holder: "ci-job-7"}); err != nil {
		t.Fatal(err)
	}
	_, errOut := e.mustRun(1, "apply", "--env", "local", "--auto-approve")
	if !strings.Contains(errOut, "locked by ci-job-7") || !strings.Contains(errOut, "evctl unlock --env local") {
		t.Fatalf("apply under a held lock: %q", errOut)
	}
	out, _ := e.mustRun(0, "unlock", "--env", "local")
	if !strings.Contains(out, "held by ci-job-7") {
		t.Fatalf("unlock: %q", out)
	}
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	if out, _ := e.mustRun(0, "unlock", "--env", "local"); !strings.Contains(out, "was not locked") {
		t.Fatalf("unlock after a clean apply: %q", out)
	}
}

// TestCorruptStateCLI: plan on a corrupt resources.json exits 1 with the repair hint, never
// resetting it; `evctl state repair` moves it aside and plan works again.
func TestCorruptStateCLI(t *testing.T) {
	e := newPAEnv(t)
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	path := filepath.Join(e.dir, ".evctl", "state", "local", "resources.json")
	garbage := []byte(`{"version": 1, "resources": {`)
	if err := os.WriteFile(path, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"plan", "--env", "local"}, {"apply", "--env", "local", "--auto-approve"}, {"status", "--env", "local"}} {
		_, errOut := e.mustRun(1, args...)
		if !strings.Contains(errOut, "evctl state repair --env local") {
			t.Fatalf("%v on corrupt state: %q, want the repair hint", args, errOut)
		}
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, garbage) {
		t.Fatalf("the corrupt state was rewritten")
	}
	out, _ := e.mustRun(0, "state", "repair", "--env", "local")
	if !strings.Contains(out, "moved the corrupt state to local/resources.json.corrupt-") {
		t.Fatalf("repair: %q", out)
	}
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("copies aside: %v", aside)
	}
	if b, _ := os.ReadFile(aside[0]); !bytes.Equal(b, garbage) {
		t.Fatalf("the copy aside differs")
	}
	// Everything live is now unrecorded: evctl refuses to claim it (blocked), as repair says.
	out, _ = e.mustRun(1, "plan", "--env", "local")
	if !strings.Contains(out, "blocked") {
		t.Fatalf("plan after repair:\n%s", out)
	}
	if out, _ := e.mustRun(0, "state", "repair", "--env", "local"); !strings.Contains(out, "healthy") {
		t.Fatalf("second repair: %q", out)
	}
}
