package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

func TestParseRetention(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "7d", want: "604800000"},
		{in: "12h", want: "43200000"},
		{in: "30m", want: "1800000"},
		{in: "45s", want: "45000"},
		{in: "-1", want: "-1"},
		{in: " 1d ", want: "86400000"},
		{in: "", wantErr: true},
		{in: "0d", wantErr: true},
		{in: "-2d", wantErr: true},
		{in: "7", wantErr: true},
		{in: "7w", wantErr: true},
		{in: "1.5h", wantErr: true},
		{in: "9999999999999999d", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := kafka.ParseRetention(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseRetention(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "kafka: retention") {
				t.Errorf("error %q lacks the component prefix", err)
			}
		})
	}
}

func TestNewTopicSpec(t *testing.T) {
	tests := []struct {
		name       string
		partitions int32
		retention  string
		configs    map[string]string
		want       kafka.TopicSpec
		wantErr    bool
	}{
		{name: "retention and configs", partitions: 12, retention: "7d", configs: map[string]string{"compression.type": "zstd"},
			want: kafka.TopicSpec{Partitions: 12, ReplicationFactor: -1, Configs: map[string]string{"compression.type": "zstd", "retention.ms": "604800000"}}},
		{name: "no retention", partitions: 3,
			want: kafka.TopicSpec{Partitions: 3, ReplicationFactor: -1}},
		{name: "retention twice", partitions: 3, retention: "1d", configs: map[string]string{"retention.ms": "5"}, wantErr: true},
		{name: "bad retention", partitions: 3, retention: "soon", wantErr: true},
		{name: "negative partitions", partitions: -3, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kafka.NewTopicSpec(tt.partitions, tt.retention, tt.configs)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTopicDiff(t *testing.T) {
	spec := kafka.TopicSpec{Partitions: 6, ReplicationFactor: -1, Configs: map[string]string{"retention.ms": "604800000"}}
	live := func(parts int32, cfg map[string]string) sink.Observed {
		return sink.Observed{Kind: kafka.KindTopic, Name: "t", Exists: true, Spec: kafka.TopicSpec{Partitions: parts, ReplicationFactor: 1, Configs: cfg}}
	}
	gone := sink.Observed{Kind: kafka.KindTopic, Name: "t"}
	tests := []struct {
		name       string
		absent     bool
		spec       kafka.TopicSpec
		have       sink.Observed
		wantAction sink.Action
		wantDiff   []sink.DiffEntry
		wantReason string
	}{
		{name: "missing", spec: spec, have: gone, wantAction: sink.Create,
			wantDiff: []sink.DiffEntry{{Path: "partitions", To: "6"}, {Path: "configs.retention.ms", To: "604800000"}}},
		{name: "equal, broker defaults ignored", spec: spec, have: live(6, map[string]string{"retention.ms": "604800000", "cleanup.policy": "compact"}), wantAction: sink.Noop},
		{name: "retention changed", spec: spec, have: live(6, map[string]string{"retention.ms": "86400000"}), wantAction: sink.Update,
			wantDiff: []sink.DiffEntry{{Path: "configs.retention.ms", From: "86400000", To: "604800000"}}},
		{name: "config unset live", spec: spec, have: live(6, map[string]string{}), wantAction: sink.Update,
			wantDiff: []sink.DiffEntry{{Path: "configs.retention.ms", To: "604800000"}}},
		{name: "partitions up", spec: spec, have: live(3, map[string]string{"retention.ms": "604800000"}), wantAction: sink.Update,
			wantDiff: []sink.DiffEntry{{Path: "partitions", From: "3", To: "6"}}},
		{name: "partitions down", spec: spec, have: live(12, map[string]string{"retention.ms": "604800000"}), wantAction: sink.Blocked,
			wantDiff: []sink.DiffEntry{{Path: "partitions", From: "12", To: "6"}}, wantReason: "partitions cannot decrease from 12 to 6"},
		{name: "replication factor", spec: kafka.TopicSpec{Partitions: 6, ReplicationFactor: 3}, have: live(6, nil), wantAction: sink.Blocked,
			wantDiff: []sink.DiffEntry{{Path: "replication_factor", From: "1", To: "3"}}, wantReason: "replication factor change"},
		{name: "absent and live", absent: true, have: live(6, nil), wantAction: sink.Delete, wantReason: "removed from the repository"},
		{name: "absent and gone", absent: true, have: gone, wantAction: sink.Noop},
		{name: "observe failed", spec: spec, have: sink.Observed{Kind: kafka.KindTopic, Name: "t", Err: errors.New("kafka: describe topic \"t\": boom")},
			wantAction: sink.Blocked, wantReason: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := topicWant("t", tt.spec)
			d.Absent = tt.absent
			cs, err := kafka.NewTopicSink(nil).Diff([]sink.Desired{d}, []sink.Observed{tt.have})
			if err != nil {
				t.Fatal(err)
			}
			c := cs[0]
			if c.Action != tt.wantAction || !reflect.DeepEqual(c.Diff, tt.wantDiff) || !strings.Contains(c.Reason, tt.wantReason) {
				t.Fatalf("got %s %+v %q\nwant %s %+v %q", c.Action, c.Diff, c.Reason, tt.wantAction, tt.wantDiff, tt.wantReason)
			}
			if c.ID() != "kafka_topic/t" || c.Event != "feed/t" {
				t.Errorf("identity %s %s", c.ID(), c.Event)
			}
		})
	}
	if _, err := kafka.NewTopicSink(nil).Diff([]sink.Desired{topicWant("t", spec)}, nil); err == nil {
		t.Error("diff without observation: want error")
	}
	if _, err := kafka.NewTopicSink(nil).Diff([]sink.Desired{{Name: "t", Spec: "nope"}}, []sink.Observed{gone}); err == nil {
		t.Error("diff with a foreign spec: want error")
	}
}

func TestTopicLifecycle(t *testing.T) {
	kc := kafkatest.Start(t)
	s := kafka.NewTopicSink(kafkatest.Admin(t, kc))
	spec, err := kafka.NewTopicSpec(3, "1d", map[string]string{"compression.type": "zstd"})
	if err != nil {
		t.Fatal(err)
	}
	d := topicWant("local.feed.life.v1", spec)

	steps := []struct {
		name       string
		mutate     func(*sink.Desired)
		wantAction sink.Action
		wantDiff   []sink.DiffEntry
	}{
		{name: "create with configs", wantAction: sink.Create, wantDiff: []sink.DiffEntry{
			{Path: "partitions", To: "3"}, {Path: "configs.compression.type", To: "zstd"}, {Path: "configs.retention.ms", To: "86400000"}}},
		{name: "re-observe is noop", wantAction: sink.Noop},
		{name: "retention change", mutate: func(d *sink.Desired) {
			d.Spec, _ = kafka.NewTopicSpec(3, "7d", map[string]string{"compression.type": "zstd"})
		}, wantAction: sink.Update, wantDiff: []sink.DiffEntry{{Path: "configs.retention.ms", From: "86400000", To: "604800000"}}},
		{name: "noop after update", wantAction: sink.Noop},
		{name: "partitions up", mutate: func(d *sink.Desired) {
			d.Spec, _ = kafka.NewTopicSpec(6, "7d", map[string]string{"compression.type": "zstd"})
		}, wantAction: sink.Update, wantDiff: []sink.DiffEntry{{Path: "partitions", From: "3", To: "6"}}},
		{name: "noop after partitions", wantAction: sink.Noop},
		{name: "partitions down is blocked", mutate: func(d *sink.Desired) {
			d.Spec, _ = kafka.NewTopicSpec(2, "7d", map[string]string{"compression.type": "zstd"})
		}, wantAction: sink.Blocked, wantDiff: []sink.DiffEntry{{Path: "partitions", From: "6", To: "2"}}},
		{name: "absent deletes", mutate: func(d *sink.Desired) { d.Absent = true }, wantAction: sink.Delete},
		{name: "absent and gone is noop", wantAction: sink.Noop},
	}
	for _, st := range steps {
		if st.mutate != nil {
			st.mutate(&d)
		}
		cs := plan(t, s, d)
		if cs[0].Action != st.wantAction || !reflect.DeepEqual(cs[0].Diff, st.wantDiff) {
			t.Fatalf("%s: got %s %+v (%s), want %s %+v", st.name, cs[0].Action, cs[0].Diff, cs[0].Reason, st.wantAction, st.wantDiff)
		}
		switch st.wantAction {
		case sink.Create, sink.Update, sink.Delete:
			if err := s.Apply(testCtx(t), cs[0]); err != nil {
				t.Fatalf("%s: apply: %v", st.name, err)
			}
		case sink.Blocked:
			if err := s.Apply(testCtx(t), cs[0]); err == nil {
				t.Fatalf("%s: applying a blocked change: want error", st.name)
			}
		}
	}
}

func TestTopicObserveIsBatched(t *testing.T) {
	kc := kafkatest.Start(t)
	s := kafka.NewTopicSink(kafkatest.Admin(t, kc))
	spec := kafka.TopicSpec{Partitions: 1, Configs: map[string]string{"retention.ms": "60000"}}
	var want []sink.Desired
	for i := range 20 {
		want = append(want, topicWant(fmt.Sprintf("obs.%02d", i), spec))
	}
	applyAll(t, s, plan(t, s, want[:10]...)) // half exist, half do not

	named := func(r kmsg.Request) bool {
		for _, tp := range r.(*kmsg.MetadataRequest).Topics {
			if tp.Topic != nil && strings.HasPrefix(*tp.Topic, "obs.") {
				return true
			}
		}
		return false
	}
	metas := countRequests(kc, kmsg.Metadata, named)
	descs := countRequests(kc, kmsg.DescribeConfigs, nil)
	cs := plan(t, s, want...)
	if got := metas.Load(); got != 1 {
		t.Errorf("metadata requests naming the topics = %d, want 1", got)
	}
	if got := descs.Load(); got != 1 {
		t.Errorf("describe configs requests = %d, want 1", got)
	}
	for i, c := range cs {
		want := sink.Noop
		if i >= 10 {
			want = sink.Create
		}
		if c.Action != want {
			t.Errorf("%s: %s, want %s", c.Name, c.Action, want)
		}
	}
}

func TestTopicApplyBatch(t *testing.T) {
	kc := kafkatest.Start(t)
	s := kafka.NewTopicSink(kafkatest.Admin(t, kc))
	var want []sink.Desired
	for i := range 50 {
		spec, _ := kafka.NewTopicSpec(int32(1+i%4), "12h", nil)
		want = append(want, topicWant(fmt.Sprintf("batch.%02d", i), spec))
	}
	creates := countRequests(kc, kmsg.CreateTopics, nil)
	applyAll(t, s, plan(t, s, want...))
	if got := creates.Load(); got != 1 {
		t.Errorf("create topics requests = %d, want 1 for 50 topics", got)
	}
	for _, c := range plan(t, s, want...) {
		if c.Action != sink.Noop {
			t.Errorf("%s after apply: %s %+v", c.Name, c.Action, c.Diff)
		}
	}

	// Updates of many topics: one IncrementalAlterConfigs, one CreatePartitions.
	for i := range want {
		spec, _ := kafka.NewTopicSpec(8, "1d", nil)
		want[i].Spec = spec
	}
	alters := countRequests(kc, kmsg.IncrementalAlterConfigs, nil)
	parts := countRequests(kc, kmsg.CreatePartitions, nil)
	applyAll(t, s, plan(t, s, want...))
	if a, p := alters.Load(), parts.Load(); a != 1 || p != 1 {
		t.Errorf("alter configs requests = %d, create partitions requests = %d, want 1 and 1", a, p)
	}
	for _, c := range plan(t, s, want...) {
		if c.Action != sink.Noop {
			t.Errorf("%s after update: %s %+v", c.Name, c.Action, c.Diff)
		}
	}
}

func TestTopicApplyIsIdempotent(t *testing.T) {
	kc := kafkatest.Start(t)
	s := kafka.NewTopicSink(kafkatest.Admin(t, kc))
	spec, _ := kafka.NewTopicSpec(4, "7d", map[string]string{"cleanup.policy": "delete"})
	d := topicWant("idem.v1", spec)
	create := plan(t, s, d)[0]
	for i := range 2 {
		if err := s.Apply(testCtx(t), create); err != nil {
			t.Fatalf("create #%d: %v", i+1, err)
		}
	}
	grow := plan(t, s, topicWant("idem.v1", kafka.TopicSpec{Partitions: 6}))[0]
	for i := range 2 {
		if err := s.Apply(testCtx(t), grow); err != nil {
			t.Fatalf("add partitions #%d: %v", i+1, err)
		}
	}
	del := plan(t, s, sink.Desired{Kind: kafka.KindTopic, Name: "idem.v1", Absent: true})[0]
	for i := range 2 {
		if err := s.Apply(testCtx(t), del); err != nil {
			t.Fatalf("delete #%d: %v", i+1, err)
		}
	}

	// Creating over a topic that exists with other settings is an error naming the difference.
	other := topicWant("idem.v2", kafka.TopicSpec{Partitions: 2})
	applyAll(t, s, plan(t, s, other))
	stale := plan(t, s, topicWant("idem.v2", kafka.TopicSpec{Partitions: 5}))[0]
	stale.Action, stale.Diff = sink.Create, nil
	err := s.Apply(testCtx(t), stale)
	if !errors.Is(err, kerr.TopicAlreadyExists) || !strings.Contains(err.Error(), "partitions") {
		t.Fatalf("create over a different topic: %v, want TOPIC_ALREADY_EXISTS naming partitions", err)
	}
}

func TestTopicList(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	for _, n := range []string{"local.feed.b.v1", "local.feed.a.v1", "local.ads.c.v1", "other"} {
		if _, err := c.Admin().CreateTopic(testCtx(t), 1, -1, nil, n); err != nil {
			t.Fatal(err)
		}
	}
	got, err := kafka.NewTopicSink(c).List(testCtx(t), "local.feed.")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"local.feed.a.v1", "local.feed.b.v1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
}

func TestTopicFaultFailsOnlyThatTopic(t *testing.T) {
	kc := kafkatest.Start(t)
	s := kafka.NewTopicSink(kafkatest.Admin(t, kc))
	var want []sink.Desired
	for _, n := range []string{"fault.a", "fault.b", "fault.c"} {
		want = append(want, topicWant(n, kafka.TopicSpec{Partitions: 1}))
	}
	cs := plan(t, s, want...)
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: "fault.b", Err: kerr.PolicyViolation})
	errs := s.ApplyBatch(testCtx(t), cs)
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("unfaulted topics failed: %v, %v", errs[0], errs[2])
	}
	if !errors.Is(errs[1], kerr.PolicyViolation) || !strings.HasPrefix(errs[1].Error(), `kafka: create topic "fault.b": `) {
		t.Fatalf("faulted topic: %v, want a prefixed POLICY_VIOLATION", errs[1])
	}
	if got := actions(plan(t, s, want...)); !reflect.DeepEqual(got, []sink.Action{sink.Noop, sink.Create, sink.Noop}) {
		t.Fatalf("after partial failure: %v", got)
	}
}

func TestTopicFaultFailsWholeRequest(t *testing.T) {
	kc := kafkatest.Start(t)
	s := kafka.NewTopicSink(kafkatest.Admin(t, kc))
	want := []sink.Desired{topicWant("ctl.a", kafka.TopicSpec{Partitions: 1}), topicWant("ctl.b", kafka.TopicSpec{Partitions: 1})}
	cs := plan(t, s, want...)
	// A control function answers one whole CreateTopics request itself, failing every topic.
	kc.ControlKey(int16(kmsg.CreateTopics), func(r kmsg.Request) (kmsg.Response, error, bool) {
		req := r.(*kmsg.CreateTopicsRequest)
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, tp := range req.Topics {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = tp.Topic, kerr.InvalidConfig.Code
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	for i, err := range s.ApplyBatch(testCtx(t), cs) {
		if !errors.Is(err, kerr.InvalidConfig) {
			t.Errorf("%s: %v, want INVALID_CONFIG", cs[i].Name, err)
		}
	}
	applyAll(t, s, cs) // the control function handled one request only
}

func TestObserveUnreachable(t *testing.T) {
	kc := kafkatest.Start(t)
	s := kafka.NewTopicSink(kafkatest.Admin(t, kc))
	kc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := s.Observe(ctx, []sink.Desired{topicWant("gone", kafka.TopicSpec{Partitions: 1})})
	if err == nil || !strings.HasPrefix(err.Error(), "kafka: describe topics: ") {
		t.Fatalf("observe with the broker down: %v, want a prefixed error", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "dial") {
		t.Fatalf("observe with the broker down: %v, want the deadline and the dial failure", err)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	_, err = kafka.Connect(ctx2, kafka.Config{Brokers: kc.Addrs})
	if err == nil || !strings.HasPrefix(err.Error(), "kafka: connect to ") {
		t.Fatalf("connect with the broker down: %v, want a prefixed error", err)
	}
}
