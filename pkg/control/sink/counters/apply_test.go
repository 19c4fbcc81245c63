package counters_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/counters"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// withCounters writes synthetic contracts and declares a counter "likes_<i>" on the first two
// events, keyed by their kafka key.
func withCounters(t *testing.T, dir string) {
	t.Helper()
	if _, err := synth.WriteContracts(dir, synth.Options{N: 3, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("synthetic contracts: %v %v", files, err)
	}
	slices.Sort(files)
	keyRe := regexp.MustCompile(`key: \[(\w+)`)
	for i, f := range files[:2] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := keyRe.FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s: no kafka key", f)
		}
		b = append(b, "counters:\n  - name: likes_"+string(rune('0'+i))+"\n    key: "+string(m[1])+
			"\n    windows: [{every: 5s}]\n    milestones: [10, 100]\n"...)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPlanApply plans and applies a repository with two counters against kfake the way `evctl
// apply` does (envplan.Prepare, apply.Run): both changelogs and the milestones topic are
// planned, created after their source topics (in the order the broker received the
// CreateTopics requests), compacted and shaped from them, the milestone contract is in the
// descriptor index, and a re-plan is a noop with no counters topic unmanaged. Then a consuming
// team, logged in with the password evctl made for it, writes a changelog and a milestone
// record and reads them back (what a count worker run with its credentials does) and decodes
// the milestone with the published contract; a producing team may not read them.
func TestPlanApply(t *testing.T) {
	kc := kafkatest.Start(t)
	dir := t.TempDir()
	withCounters(t, dir)
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
	srcOf := map[string]string{} // event → source topic
	var cnt []sink.Change
	for _, c := range run.Plan.Changes {
		switch c.Kind {
		case kafka.KindTopic:
			srcOf[c.Event] = c.Name
		case counters.Kind:
			cnt = append(cnt, c)
		}
	}
	var names []string
	for _, c := range cnt {
		if c.Action != sink.Create {
			t.Fatalf("%s: %s, want create", c.ID(), c.Action)
		}
		names = append(names, c.Name)
	}
	slices.Sort(names)
	wantNames := []string{counters.ChangelogTopic("local", "likes_0"), counters.ChangelogTopic("local", "likes_1"), counters.MilestonesTopic("local")}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("planned counters topics %v, want %v", names, wantNames)
	}
	rep, err := apply.Run(testCtx(t), run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{Env: "local", Who: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Kind == counters.Kind && r.Status != state.StatusOK {
			t.Fatalf("%s/%s: %s %s", r.Kind, r.Name, r.Status, r.Error)
		}
	}
	mu.Lock()
	order := slices.Clone(created)
	mu.Unlock()
	ms := slices.Index(order, counters.MilestonesTopic("local"))
	for _, c := range cnt {
		if c.Event == counters.MilestoneEvent {
			continue
		}
		src := srcOf[c.Event]
		i, j := slices.Index(order, src), slices.Index(order, c.Name)
		if i < 0 || j < 0 || j < i || ms < i {
			t.Fatalf("CreateTopics order %v: want %s and the milestones topic after %s", order, c.Name, src)
		}
	}

	// The changelog is compacted, with its source's partitions.
	cl, src := counters.ChangelogTopic("local", "likes_0"), ""
	for _, c := range cnt {
		if c.Name == cl {
			src = srcOf[c.Event]
		}
	}
	admin := run.Conn.Kafka.Admin()
	mreq := kmsg.NewPtrMetadataRequest()
	for _, n := range []string{src, cl} {
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
	if parts[src] == 0 || parts[src] != parts[cl] {
		t.Fatalf("partitions: %v, want the changelog's equal to its source's", parts)
	}
	cfgs, err := admin.DescribeTopicConfigs(testCtx(t), cl, counters.MilestonesTopic("local"))
	if err != nil {
		t.Fatal(err)
	}
	policy := func(topic string) string {
		rc, err := cfgs.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" {
				return c.MaybeValue()
			}
		}
		return ""
	}
	if policy(cl) != "compact" || policy(counters.MilestonesTopic("local")) != "delete" {
		t.Fatalf("cleanup.policy: changelog %q, milestones %q; want compact and delete", policy(cl), policy(counters.MilestonesTopic("local")))
	}

	again, err := envplan.Prepare(testCtx(t), open(), "local", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for _, c := range again.Plan.Changes {
		if c.Kind == counters.Kind && c.Action != sink.Noop {
			t.Errorf("re-plan: %s %s %+v %s, want noop", c.Action, c.ID(), c.Diff, c.Reason)
		}
	}
	for _, u := range again.Plan.Unmanaged {
		if kafka.IsCountersTopic("local", u.Name) {
			t.Errorf("re-plan reports %s/%s as unmanaged", u.Kind, u.Name)
		}
	}

	// The milestone contract is in the index like any other event.
	idx, _, err := descstore.ReadIndex(testCtx(t), run.Conn.Descriptors)
	if err != nil {
		t.Fatal(err)
	}
	entry, ok := idx.Events[counters.MilestoneEvent]
	if !ok || entry.Topic != counters.MilestonesTopic("local") || entry.Message != counters.MilestoneMessage {
		t.Fatalf("index entry of %s: %+v (present %v)", counters.MilestoneEvent, entry, ok)
	}
	set, _, err := run.Conn.Descriptors.Get(testCtx(t), descstore.SetKey(entry.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	md := messageOf(t, set, entry.Message)

	// analytics consumes the counted events: a count worker run with its credentials.
	client := func(team string, topics ...string) *kgo.Client {
		pw, _, err := run.Conn.Credentials.Password(team)
		if err != nil {
			t.Fatal(err)
		}
		m, err := kafka.SASL{Mechanism: kafka.MechanismScramSHA512, User: kafka.UserName(team), Password: pw}.Franz()
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Addrs...), kgo.SASL(m), kgo.ConsumeTopics(topics...),
			kgo.ConsumerGroup(kafka.GroupPrefix(team)+"counters"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	worker := client("analytics", cl, counters.MilestonesTopic("local"))
	msg := dynamicpb.NewMessage(md)
	msg.Set(md.Fields().ByName("counter"), protoreflect.ValueOfString("likes_0"))
	msg.Set(md.Fields().ByName("key"), protoreflect.ValueOfString("p1"))
	msg.Set(md.Fields().ByName("milestone"), protoreflect.ValueOfInt64(10))
	msg.Set(md.Fields().ByName("value"), protoreflect.ValueOfInt64(12))
	val, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.ProduceSync(testCtx(t),
		&kgo.Record{Topic: cl, Key: []byte("p1"), Value: []byte("12")},
		&kgo.Record{Topic: counters.MilestonesTopic("local"), Key: []byte("likes_0/p1"), Value: val},
	).FirstErr(); err != nil {
		t.Fatalf("analytics writes the counters' topics: %v", err)
	}
	got := map[string][]byte{}
	for len(got) < 2 {
		fs := worker.PollFetches(testCtx(t))
		if err := fs.Err(); err != nil {
			t.Fatalf("analytics reads the counters' topics: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) { got[r.Topic] = r.Value })
	}
	if string(got[cl]) != "12" {
		t.Fatalf("changelog read back %q", got[cl])
	}
	back := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(got[counters.MilestonesTopic("local")], back); err != nil || back.Get(md.Fields().ByName("value")).Int() != 12 {
		t.Fatalf("milestone decoded with the published contract: %v, %v", back, err)
	}

	// growth produces the counted events but consumes nothing: it may not read the counts.
	outsider := client("growth", cl)
	fs := outsider.PollFetches(testCtx(t))
	if err := fs.Err(); !isAuthz(err) {
		t.Fatalf("growth reads %s: %v, want an authorization error", cl, err)
	}
}

func isAuthz(err error) bool {
	return err != nil && (strings.Contains(err.Error(), kerr.TopicAuthorizationFailed.Message) || strings.Contains(err.Error(), kerr.GroupAuthorizationFailed.Message))
}

// messageOf resolves name in a published descriptor set.
func messageOf(t *testing.T, set []byte, name string) protoreflect.MessageDescriptor {
	t.Helper()
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(set, &fds); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(&fds)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

// TestAdoptsWorkerTopics: topics a count worker made itself before any apply (its fallback,
// pkg/data/count's EnsureTopics: a compacted changelog, a milestones topic with the broker's
// configs, no ACLs) are adopted, not blocked as another repository's: the plan updates them
// (ACLs, the contract, the stated cleanup.policy) and a re-plan is a noop.
func TestAdoptsWorkerTopics(t *testing.T) {
	kc := kafkatest.Start(t)
	dir := t.TempDir()
	withCounters(t, dir)
	ws, err := workspace.Open(filepath.Join(dir, config.FileName), dir)
	if err != nil {
		t.Fatal(err)
	}
	env := ws.Project.Environments["local"]
	env.Kafka.Brokers = kc.Addrs
	ws.Project.Environments["local"] = env
	vars := map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword}
	opts := envplan.Options{Getenv: func(k string) string { return vars[k] }}
	prepare := func() *envplan.Run {
		run, err := envplan.Prepare(testCtx(t), ws, "local", opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(run.Close)
		return run
	}

	run := prepare()
	for _, c := range run.Plan.Changes {
		if c.Kind != counters.Kind {
			continue
		}
		spec := c.Desired.Spec.(counters.Spec)
		var cfg map[string]*string
		if c.Event != counters.MilestoneEvent {
			cfg = map[string]*string{"cleanup.policy": kmsg.StringPtr("compact")}
		}
		res, err := run.Conn.Kafka.Admin().CreateTopic(testCtx(t), max(spec.Topic.Partitions, 1), -1, cfg, c.Name)
		if err == nil {
			err = res.Err
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	run = prepare()
	n := 0
	for _, c := range run.Plan.Changes {
		if c.Kind == counters.Kind {
			n++
			if c.Action != sink.Update {
				t.Errorf("%s: %s (%s), want update", c.ID(), c.Action, c.Reason)
			}
		}
	}
	if n != 3 {
		t.Fatalf("planned %d counters topics, want 3", n)
	}
	rep, err := apply.Run(testCtx(t), run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{Env: "local", Who: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Kind == counters.Kind && r.Status != state.StatusOK {
			t.Fatalf("%s/%s: %s %s", r.Kind, r.Name, r.Status, r.Error)
		}
	}
	for _, c := range prepare().Plan.Changes {
		if c.Kind == counters.Kind && c.Action != sink.Noop {
			t.Errorf("re-plan: %s %s %+v %s, want noop", c.Action, c.ID(), c.Diff, c.Reason)
		}
	}
}
