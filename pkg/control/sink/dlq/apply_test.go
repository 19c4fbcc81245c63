package dlq_test

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/dlq"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
)

// TestPlanApply plans and applies a synthetic repository against kfake the way `evctl apply`
// does (envplan.Prepare, apply.Run): every event's dead-letter topic is planned, created after
// its source topic (in the order the broker received the CreateTopics requests), shaped from
// it, and a re-plan is a noop. Then a consuming team, logged in with the password evctl made
// for it, writes a dead letter and reads it back: what a worker does with the team's
// credentials.
func TestPlanApply(t *testing.T) {
	kc := kafkatest.Start(t)
	dir := t.TempDir()
	if _, err := synth.WriteContracts(dir, synth.Options{N: 3, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	open := func() *workspace.Workspace {
		ws, err := workspace.Open(filepath.Join(dir, config.FileName), dir)
		if err != nil {
			t.Fatal(err)
		}
		env := ws.Project.Environments["local"]
		env.Kafka.Brokers = kc.Addrs
		ws.Project.Environments["local"] = env
		return ws
	}
	vars := map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword}
	opts := envplan.Options{Getenv: func(k string) string { return vars[k] }}

	var mu sync.Mutex
	var created []string // topic names in the order the broker was asked to create them
	kc.ControlKey(int16(kmsg.CreateTopics), func(r kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range r.(*kmsg.CreateTopicsRequest).Topics {
			created = append(created, tp.Topic)
		}
		return nil, nil, false
	})

	run, err := envplan.Prepare(testCtx(t), open(), "local", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	var sources, dlqs []sink.Change
	for _, c := range run.Plan.Changes {
		switch c.Kind {
		case kafka.KindTopic:
			sources = append(sources, c)
		case dlq.Kind:
			dlqs = append(dlqs, c)
		}
	}
	if len(sources) != 3 || len(dlqs) != 3 {
		t.Fatalf("planned %d topics and %d dead-letter topics, want 3 and 3", len(sources), len(dlqs))
	}
	for i, c := range dlqs {
		if c.Action != sink.Create || c.Name != sources[i].Name+".dlq" {
			t.Fatalf("dead-letter change %s %s, want create %s.dlq", c.Action, c.ID(), sources[i].Name)
		}
	}
	rep, err := apply.Run(testCtx(t), run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{Env: "local", Who: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Kind == dlq.Kind && r.Status != state.StatusOK {
			t.Fatalf("%s/%s: %s %s", r.Kind, r.Name, r.Status, r.Error)
		}
	}
	mu.Lock()
	order := slices.Clone(created)
	mu.Unlock()
	for _, src := range sources {
		i, j := slices.Index(order, src.Name), slices.Index(order, kafka.DLQName(src.Name))
		if i < 0 || j < 0 || j < i {
			t.Fatalf("CreateTopics order %v: want %s after %s", order, kafka.DLQName(src.Name), src.Name)
		}
	}

	admin := run.Conn.Kafka.Admin()
	src, dl := sources[0].Name, kafka.DLQName(sources[0].Name)
	mreq := kmsg.NewPtrMetadataRequest()
	for _, n := range []string{src, dl} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		mreq.Topics = append(mreq.Topics, rt)
	}
	mresp, err := mreq.RequestWith(testCtx(t), run.Conn.Kafka.Kgo())
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string]int{}
	for _, tp := range mresp.Topics {
		parts[*tp.Topic] = len(tp.Partitions)
	}
	if parts[src] == 0 || parts[src] != parts[dl] {
		t.Fatalf("partitions: %v, want the dead-letter topic's equal to its source's", parts)
	}
	cfgs, err := admin.DescribeTopicConfigs(testCtx(t), src, dl)
	if err != nil {
		t.Fatal(err)
	}
	val := func(topic, key string) string {
		rc, err := cfgs.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rc.Configs {
			if c.Key == key {
				return c.MaybeValue()
			}
		}
		return ""
	}
	if val(dl, "cleanup.policy") != "delete" || val(dl, "retention.ms") != val(src, "retention.ms") {
		t.Fatalf("dead-letter configs: cleanup.policy %q, retention.ms %q (source %q)", val(dl, "cleanup.policy"), val(dl, "retention.ms"), val(src, "retention.ms"))
	}

	again, err := envplan.Prepare(testCtx(t), open(), "local", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for _, c := range again.Plan.Changes {
		if c.Kind == dlq.Kind && c.Action != sink.Noop {
			t.Errorf("re-plan: %s %s %+v %s, want noop", c.Action, c.ID(), c.Diff, c.Reason)
		}
	}
	for _, u := range again.Plan.Unmanaged {
		if kafka.IsDLQ(u.Name) {
			t.Errorf("re-plan reports %s/%s as unmanaged", u.Kind, u.Name)
		}
	}

	// analytics consumes every synthetic event: a worker of its dead-letters and replays.
	pw, _, err := run.Conn.Credentials.Password("analytics")
	if err != nil {
		t.Fatal(err)
	}
	m, err := kafka.SASL{Mechanism: kafka.MechanismScramSHA512, User: kafka.UserName("analytics"), Password: pw}.Franz()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Addrs...), kgo.SASL(m), kgo.ConsumeTopics(dl),
		kgo.ConsumerGroup(kafka.GroupPrefix("analytics")+"replay"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Topic: dl, Value: []byte("undecodable")}).FirstErr(); err != nil {
		t.Fatalf("analytics writes a dead letter: %v", err)
	}
	fs := cl.PollFetches(testCtx(t))
	if err := fs.Err(); err != nil {
		t.Fatalf("analytics reads dead letters: %v", err)
	}
	var got []string
	fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	if strings.Join(got, ",") != "undecodable" {
		t.Fatalf("read back %q", got)
	}
}
