package consumers_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/consumers"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

const projectYAML = `version: 1
naming:
  topic: "{env}.{domain}.{event}.v{major}"
  bigquery_table: "{domain}__{event}_v{major}"
  proto_package: "events.{domain}.v{major}"
platform_fields:
  - {name: event_id,   type: string,    mode: required, number: 1000}
  - {name: event_time, type: timestamp, mode: required, number: 1001}
  - {name: user_id,    type: string,    number: 1005}
teams:
  identity: {pods: [onboarding]}
  growth: {pods: [feed]}
  analytics: {pods: [core]}
environments:
  local:
    stages: [staging, prod]
    kafka: {brokers: ["BROKERS"], sasl: {mechanism: SCRAM-SHA-256, user_env: EVCTL_KAFKA_USER, password_env: EVCTL_KAFKA_PASSWORD}}
    descriptors: {url: "file://.evctl/descriptors"}
    state: {url: "file://.evctl/state"}
`

const eventYAML = `name: step_completed
domain: identity
owner: {team: identity, pod: onboarding}
description: A user finished an onboarding step.
stage: prod
major: 1
schema:
  fields:
    - {name: flow_id, type: string, mode: required, number: 1}
    - {name: step, type: enum, values: [KYC, PROFILE], number: 2}
    - {name: n, type: int64, number: 3}
sinks:
  kafka: {partitions: 3, retention: 7d, key: [flow_id]}
access: {producers: [identity], consumers: [analytics]}
examples:
  - {flow_id: f1, step: KYC, n: 2, user_id: u1, event_id: e1, event_time: "2026-11-01T10:00:00Z"}
`

const crmYAML = `name: crm_nudges
owner: {team: growth}
description: Reminds users who stopped at a KYC step.
events: [identity/step_completed]
where: {step: KYC}
transform: |
  {"user": {{json .user_id}}, "n": {{json .n}}}
deliver:
  http: {url_env: CRM_URL, max_rps: 50}
retry: {max_attempts: 3, backoff: 1s}
`

const auditYAML = `name: audit
owner: {team: growth}
events: [identity/step_completed]
transform: '{{json .flow_id}}'
deliver:
  kafka: {topic: local.growth.audit}
`

// writeRepo writes the fixture repository with the given consumers (file name → YAML).
func writeRepo(t *testing.T, dir string, brokers []string, cons map[string]string) {
	t.Helper()
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(config.FileName, strings.Replace(projectYAML, "BROKERS", strings.Join(brokers, `", "`), 1))
	write("contracts/identity/step_completed.yaml", eventYAML)
	_ = os.RemoveAll(filepath.Join(dir, consumer.Dir))
	for f, body := range cons {
		write(filepath.Join(consumer.Dir, f), body)
	}
}

// TestPlanApply plans and applies a repository with two consumers against kfake (SASL and
// ACLs on) the way `evctl apply` does: the plan lists each consumer's dead-letter topic, its
// deliver.kafka topic and its definition; after apply the definitions are in the descriptor
// store (read back by hash, as the route worker reads them); growth, logged in with the
// password evctl made for it, consumes the event in the consumer's group, writes its
// dead-letter topic, its target topic and the event's dead-letter topic (the worker model's), while a group that is not its consumer's is refused.
// A re-plan is a noop; removing a consumer file plans its resources as deletes, which wait for
// --allow-destroy and then go (definition unpublished, topic deleted, group READ revoked).
func TestPlanApply(t *testing.T) {
	kc := kafkatest.Start(t)
	dir := t.TempDir()
	writeRepo(t, dir, kc.Addrs, map[string]string{"crm_nudges.yaml": crmYAML, "audit.yaml": auditYAML})
	vars := map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword}
	opts := envplan.Options{Getenv: func(k string) string { return vars[k] }}
	prepare := func() *envplan.Run {
		ws, err := workspace.Open(filepath.Join(dir, config.FileName), dir)
		if err != nil {
			t.Fatal(err)
		}
		run, err := envplan.Prepare(testCtx(t), ws, "local", opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(run.Close)
		return run
	}
	run := prepare()
	var names []string
	for _, c := range run.Plan.Changes {
		if c.Kind == consumers.Kind {
			if c.Action != sink.Create {
				t.Errorf("%s: %s (%s), want create", c.ID(), c.Action, c.Reason)
			}
			names = append(names, c.Event+" "+c.Name)
		}
	}
	slices.Sort(names)
	want := []string{
		"consumer/audit consumers/audit", "consumer/audit local.consumers.audit.dlq", "consumer/audit local.growth.audit",
		"consumer/crm_nudges consumers/crm_nudges", "consumer/crm_nudges local.consumers.crm_nudges.dlq",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("planned consumer resources\n%v\nwant\n%v", names, want)
	}
	// The event's topic ACL now lets growth read it, growth's user is planned.
	var aclDiff []string
	userPlanned := false
	for _, c := range run.Plan.Changes {
		if c.Kind == kafka.KindACL && c.Name == "local.identity.step_completed.v1" {
			for _, d := range c.Diff {
				aclDiff = append(aclDiff, d.Path)
			}
		}
		userPlanned = userPlanned || (c.Kind == kafka.KindUser && c.Name == kafka.UserName("growth"))
	}
	if !slices.Contains(aclDiff, "acl.User:growth.READ") || !userPlanned {
		t.Fatalf("topic ACL diff %v, growth's user planned %v; want growth to read the event", aclDiff, userPlanned)
	}
	rep, err := apply.Run(testCtx(t), run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{Env: "local", Who: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Status != state.StatusOK && r.Status != state.StatusSkipped {
			t.Fatalf("%s/%s: %s %s", r.Kind, r.Name, r.Status, r.Error)
		}
		if r.Kind == consumers.Kind && r.Status != state.StatusOK {
			t.Fatalf("%s/%s: %s %s", r.Kind, r.Name, r.Status, r.Error)
		}
	}

	// The definitions are published, content addressed, and runnable without the repository.
	all, err := descstore.ReadConsumers(testCtx(t), run.Conn.Descriptors)
	if err != nil {
		t.Fatal(err)
	}
	crm := all.Defs["crm_nudges"]
	if crm == nil || crm.Group != "evctl.local.consumer.crm_nudges" || crm.DLQ != "local.consumers.crm_nudges.dlq" ||
		crm.Topics["identity/step_completed"] != "local.identity.step_completed.v1" || crm.Where["step"] != "KYC" ||
		crm.Deliver.HTTP == nil || crm.Deliver.HTTP.URLEnv != "CRM_URL" || crm.Retry.MaxAttempts != 3 || !strings.Contains(crm.Transform, "json .user_id") {
		t.Fatalf("published crm_nudges: %+v", crm)
	}
	if a := all.Defs["audit"]; a == nil || a.Deliver.Kafka == nil || a.Deliver.Kafka.Topic != "local.growth.audit" {
		t.Fatalf("published audit: %+v", a)
	}
	c, at := consumer.FromDefinition(crm)
	if c.Name != "crm_nudges" || c.Owner.Team != "growth" || at.Group != crm.Group {
		t.Fatalf("FromDefinition: %+v %+v", c, at)
	}

	// growth, with the credentials evctl made: reads the event in its consumer's group, writes
	// the dead-letter and the target topic.
	pw, _, err := run.Conn.Credentials.Password("growth")
	if err != nil {
		t.Fatal(err)
	}
	m, err := kafka.SASL{Mechanism: kafka.MechanismScramSHA512, User: kafka.UserName("growth"), Password: pw}.Franz()
	if err != nil {
		t.Fatal(err)
	}
	admin := run.Conn.Kafka.Kgo()
	if err := admin.ProduceSync(testCtx(t), &kgo.Record{Topic: "local.identity.step_completed.v1", Key: []byte("f1"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	client := func(group string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Addrs...), kgo.SASL(m), kgo.ConsumeTopics("local.identity.step_completed.v1"),
			kgo.ConsumerGroup(group), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	worker := client(consumer.Group("local", "crm_nudges"))
	var got []*kgo.Record
	for len(got) == 0 {
		fs := worker.PollFetches(testCtx(t))
		if err := fs.Err(); err != nil {
			t.Fatalf("growth reads the event in group %s: %v", consumer.Group("local", "crm_nudges"), err)
		}
		got = append(got, fs.Records()...)
	}
	if err := worker.ProduceSync(testCtx(t),
		&kgo.Record{Topic: "local.consumers.crm_nudges.dlq", Value: []byte("dead")},
		&kgo.Record{Topic: "local.growth.audit", Value: []byte(`"f1"`)},
		&kgo.Record{Topic: "local.identity.step_completed.v1.dlq", Value: []byte("undecodable")},
	).FirstErr(); err != nil {
		t.Fatalf("growth writes its dead-letter and target topics and the event's dead-letter topic: %v", err)
	}
	other := client("evctl.local.consumer.someone_else")
	if err := other.PollFetches(testCtx(t)).Err(); err == nil || !strings.Contains(err.Error(), kerr.GroupAuthorizationFailed.Message) {
		t.Fatalf("growth in a group that is not its consumer's: %v, want a group authorization error", err)
	}

	again := prepare()
	for _, c := range again.Plan.Changes {
		if c.Kind == consumers.Kind && c.Action != sink.Noop {
			t.Errorf("re-plan: %s %s %+v %s, want noop", c.Action, c.ID(), c.Diff, c.Reason)
		}
	}
	if len(again.Plan.Unmanaged) != 0 {
		t.Errorf("re-plan reports unmanaged resources: %+v", again.Plan.Unmanaged)
	}

	// A changed template is an update of the definition alone.
	writeRepo(t, dir, kc.Addrs, map[string]string{"crm_nudges.yaml": strings.Replace(crmYAML, `"n": {{json .n}}`, `"count": {{json .n}}`, 1), "audit.yaml": auditYAML})
	run = prepare()
	for _, c := range run.Plan.Changes {
		if c.Kind != consumers.Kind {
			continue
		}
		wantAction := sink.Noop
		if c.Name == consumers.DefName("crm_nudges") {
			wantAction = sink.Update
			if len(c.Diff) != 2 || c.Diff[0].Path != "definition.sha256" || c.Diff[1].Path != "definition.transform" ||
				!strings.Contains(c.Diff[1].From, `"n":`) || !strings.Contains(c.Diff[1].To, `"count":`) {
				t.Errorf("changed template diff %+v, want definition.sha256 and definition.transform", c.Diff)
			}
		}
		if c.Action != wantAction {
			t.Errorf("changed template: %s %s, want %s", c.ID(), c.Action, wantAction)
		}
	}
	if _, err := apply.Run(testCtx(t), run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{Env: "local", Who: "test"}); err != nil {
		t.Fatal(err)
	}

	// Removing audit: its three resources plan as deletes and wait for --allow-destroy.
	writeRepo(t, dir, kc.Addrs, map[string]string{"crm_nudges.yaml": crmYAML})
	for _, allow := range []bool{false, true} {
		run = prepare()
		var dels []string
		for _, c := range run.Plan.Changes {
			if c.Kind == consumers.Kind && c.Action == sink.Delete {
				dels = append(dels, c.Name)
			}
		}
		slices.Sort(dels)
		if strings.Join(dels, " ") != "consumers/audit local.consumers.audit.dlq local.growth.audit" {
			t.Fatalf("after removing audit.yaml, deletes %v", dels)
		}
		rep, err := apply.Run(testCtx(t), run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{Env: "local", Who: "test", AllowDestroy: allow})
		if err != nil {
			t.Fatal(err)
		}
		idx, _, err := descstore.ReadConsumerIndex(testCtx(t), run.Conn.Descriptors)
		if err != nil {
			t.Fatal(err)
		}
		if _, published := idx.Consumers["audit"]; published == allow {
			t.Fatalf("allow-destroy %v: audit still published %v (%+v)", allow, published, rep.Results)
		}
	}
	// Observed the way the topic sink does (a plain Metadata request would auto-create them).
	obs, err := kafka.NewTopicSink(run.Conn.Kafka).Observe(testCtx(t), []sink.Desired{
		{Kind: kafka.KindTopic, Name: "local.consumers.audit.dlq", Absent: true}, {Kind: kafka.KindTopic, Name: "local.growth.audit", Absent: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range obs {
		if o.Exists || o.Err != nil {
			t.Errorf("topic %s after its consumer was removed with --allow-destroy: exists %v, %v", o.Name, o.Exists, o.Err)
		}
	}
	gone := client(consumer.Group("local", "audit"))
	if err := gone.PollFetches(testCtx(t)).Err(); err == nil || !strings.Contains(err.Error(), kerr.GroupAuthorizationFailed.Message) {
		t.Fatalf("growth in removed audit's group: %v, want a group authorization error", err)
	}
	for _, c := range prepare().Plan.Changes {
		if c.Kind == consumers.Kind && c.Action != sink.Noop {
			t.Errorf("after removal: %s %s, want noop", c.ID(), c.Action)
		}
	}
}

// TestPlanBlocksConsumerField: after the event is applied to the environment, a change that
// retypes a field crm_nudges's template uses (n: int64 → string) is a breaking finding of the
// plan naming the consumer and where it uses the field, and the event's resources are blocked.
func TestPlanBlocksConsumerField(t *testing.T) {
	kc := kafkatest.Start(t)
	dir := t.TempDir()
	writeRepo(t, dir, kc.Addrs, map[string]string{"crm_nudges.yaml": crmYAML})
	buf, err := filepath.Abs(filepath.Join("..", "..", "..", "..", ".tools", "bin", "buf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(buf); err != nil {
		t.Fatalf("buf is not installed (run scripts/install-tools.sh): %v", err)
	}
	vars := map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword, "EVCTL_BUF": buf}
	opts := envplan.Options{Getenv: func(k string) string { return vars[k] }}
	prepare := func() *envplan.Run {
		ws, err := workspace.Open(filepath.Join(dir, config.FileName), dir)
		if err != nil {
			t.Fatal(err)
		}
		run, err := envplan.Prepare(testCtx(t), ws, "local", opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(run.Close)
		return run
	}
	run := prepare()
	if _, err := apply.Run(testCtx(t), run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{Env: "local", Who: "test"}); err != nil {
		t.Fatal(err)
	}
	ev := filepath.Join(dir, "contracts", "identity", "step_completed.yaml")
	b, err := os.ReadFile(ev)
	if err != nil {
		t.Fatal(err)
	}
	retyped := strings.Replace(string(b), "{name: n, type: int64, number: 3}", "{name: n, type: string, number: 3}", 1)
	retyped = strings.Replace(retyped, "n: 2,", `n: "2",`, 1)
	if err := os.WriteFile(ev, []byte(retyped), 0o644); err != nil {
		t.Fatal(err)
	}
	run = prepare()
	var found []string
	for _, f := range run.Plan.Breaking {
		if f.Rule == "EVCTL_CONSUMER_FIELD_USED" {
			found = append(found, f.Field+": "+f.Message)
		}
	}
	if len(found) != 1 || !strings.Contains(found[0], "n: consumer crm_nudges uses field n (consumers/crm_nudges.yaml:7:43)") {
		t.Fatalf("plan breaking %+v, want crm_nudges's use of n", run.Plan.Breaking)
	}
	blocked := false
	for _, c := range run.Plan.Changes {
		if c.Event == "identity/step_completed" && c.Action == sink.Blocked {
			blocked = true
		}
	}
	if !blocked {
		t.Fatalf("no resource of identity/step_completed blocked: %+v", run.Plan.Changes)
	}
}
