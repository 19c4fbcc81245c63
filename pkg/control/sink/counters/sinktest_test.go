package counters_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/counters"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/sink/sinktest"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func openStore(t testing.TB) blob.Store {
	t.Helper()
	st, err := blob.Open(testCtx(t), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// milestones is the milestones topic of environment "suite<n>" as Def.Desire builds it.
func milestones(t *testing.T, n int) sink.Desired {
	ms, err := counters.CompileMilestone(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	name := counters.MilestonesTopic(fmt.Sprintf("suite%d", n))
	spec, err := counters.NewMilestonesSpec(name, 2, []string{"analytics"}, "staging", ms)
	if err != nil {
		t.Fatal(err)
	}
	return sink.NewDesired(counters.MilestoneEvent, counters.Kind, name, "staging", spec, nil)
}

// want is, for n = 1, a milestones topic (with the contract in the index), else the changelog
// of counter "c<n>", as Def.Desire builds them.
func want(t *testing.T, n int) sink.Desired {
	if n == 1 {
		return milestones(t, n)
	}
	spec, err := counters.NewChangelogSpec(2, []string{"analytics"})
	if err != nil {
		t.Fatal(err)
	}
	name := counters.ChangelogTopic("suite", fmt.Sprintf("c%d", n))
	spec.ACL.Topic = name
	return sink.NewDesired("suite/t", counters.Kind, name, "staging", spec, nil)
}

// TestConformance runs the shared sink suite against kfake (SASL and ACLs on) and a file://
// descriptor store: drift and refusals are made on the cluster itself, with its admin API and a
// kfake fault. The counters' names are evctl's own (OwnsAll): a live one is adopted.
func TestConformance(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	sinktest.Run(t, sinktest.Case{
		Sink: counters.New(c, openStore(t), "growth", "analytics"),
		New:  want,
		Drift: func(t *testing.T, d sink.Desired) {
			res, err := c.Admin().AlterTopicConfigs(testCtx(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: kadm.StringPtr("delete")}}, d.Name)
			if err == nil {
				err = res[0].Err
			}
			if err != nil {
				t.Fatal(err)
			}
		},
		Bad: func(t *testing.T, n int) (sink.Desired, func(*testing.T)) {
			d := want(t, n)
			kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: d.Name, Err: kerr.PolicyViolation, Count: -1})
			return d, nil
		},
		OwnsAll: true,
	})
}

// TestMilestoneContract: the milestones topic publishes the contract in the descriptor index
// (its set under its sha256); an entry removed by hand is an update that puts it back, and
// deleting the topic removes the entry.
func TestMilestoneContract(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	st := openStore(t)
	s := counters.New(c, st, "analytics")
	d := milestones(t, 1)
	apply := func(cs []sink.Change) {
		t.Helper()
		for i, err := range s.ApplyBatch(testCtx(t), cs) {
			if err != nil {
				t.Fatalf("apply %s: %v", cs[i].ID(), err)
			}
		}
	}
	apply(sinktest.Plan(t, s, d))
	idx, _, err := descstore.ReadIndex(testCtx(t), st)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := idx.Events[counters.MilestoneEvent]
	ms, _ := counters.CompileMilestone(testCtx(t))
	if !ok || e.Message != counters.MilestoneMessage || e.Topic != d.Name || e.SHA256 != ms.SHA256 {
		t.Fatalf("index entry %+v (present %v), want %s on %s with set %s", e, ok, counters.MilestoneMessage, d.Name, ms.SHA256)
	}
	if set, _, err := st.Get(testCtx(t), descstore.SetKey(e.SHA256)); err != nil || descstore.SHA256(set) != e.SHA256 {
		t.Fatalf("published set: %v", err)
	}

	if err := descstore.UpdateIndex(testCtx(t), st, func(idx *descstore.Index) { delete(idx.Events, counters.MilestoneEvent) }); err != nil {
		t.Fatal(err)
	}
	cs := sinktest.Plan(t, s, d)
	if cs[0].Action != sink.Update || len(cs[0].Diff) == 0 || cs[0].Diff[0].Path != "contract.sha256" {
		t.Fatalf("after removing the entry by hand: %s %+v, want update contract.*", cs[0].Action, cs[0].Diff)
	}
	apply(cs)
	if cs = sinktest.Plan(t, s, d); cs[0].Action != sink.Noop {
		t.Fatalf("after apply: %s %+v, want noop", cs[0].Action, cs[0].Diff)
	}

	gone := d
	gone.Absent, gone.Spec = true, nil
	apply(sinktest.Plan(t, s, gone))
	idx, _, err = descstore.ReadIndex(testCtx(t), st)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := idx.Events[counters.MilestoneEvent]; ok {
		t.Fatal("the milestones topic is deleted but the index still names its contract")
	}
}

// TestACLDrift: a changelog's access entry removed by hand is an update that puts it back.
func TestACLDrift(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	s := counters.New(c, nil, "growth", "analytics")
	d := want(t, 2)
	for i, err := range s.ApplyBatch(testCtx(t), sinktest.Plan(t, s, d)) {
		if err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	del := kadm.NewACLs().Allow("User:analytics").AllowHosts().Topics(d.Name).Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)
	if _, err := c.Admin().DeleteACLs(testCtx(t), del); err != nil {
		t.Fatal(err)
	}
	cs := sinktest.Plan(t, s, d)
	if cs[0].Action != sink.Update || len(cs[0].Diff) != 1 || cs[0].Diff[0].Path != "acl.User:analytics.WRITE" {
		t.Fatalf("after removing an entry by hand: %s %+v, want update acl.User:analytics.WRITE", cs[0].Action, cs[0].Diff)
	}
	if err := s.Apply(testCtx(t), cs[0]); err != nil {
		t.Fatal(err)
	}
	if cs = sinktest.Plan(t, s, d); cs[0].Action != sink.Noop {
		t.Fatalf("after apply: %s %+v, want noop", cs[0].Action, cs[0].Diff)
	}
}

func TestNames(t *testing.T) {
	for topic, want := range map[string]bool{
		"e.counters.post_likes.changelog": true, "e.counters.milestones": true,
		"e.counters..changelog": false, "e.counters.post_likes.repartition": true, "e.counters..repartition": false,
		"f.counters.milestones": false, "e.feed.counters.v1": false,
	} {
		if got := kafka.IsCountersTopic("e", topic); got != want {
			t.Errorf("IsCountersTopic(e, %s) = %v, want %v", topic, got, want)
		}
	}
}

// TestRepartitioned: a counter needs its repartition topic unless the event's topic is keyed by
// exactly the counter's key; Names lists it beside the changelog.
func TestRepartitioned(t *testing.T) {
	c := contract.Counter{Name: "post_likes", Key: "post_id"}
	for _, k := range []struct {
		kafka *contract.KafkaSink
		want  bool
	}{
		{&contract.KafkaSink{Key: []string{"post_id"}}, false},
		{&contract.KafkaSink{Key: []string{"user_id"}}, true},
		{&contract.KafkaSink{Key: []string{"post_id", "user_id"}}, true},
		{&contract.KafkaSink{}, true},
	} {
		ev := &contract.Event{Counters: []contract.Counter{c}}
		ev.Sinks.Kafka = k.kafka
		if got := counters.Repartitioned(ev, c); got != k.want {
			t.Errorf("kafka key %v: repartitioned %v, want %v", k.kafka.Key, got, k.want)
		}
		names := counters.Def{}.Names(nil, "e", ev)
		want := []string{"e.counters.post_likes.changelog"}
		if k.want {
			want = append(want, "e.counters.post_likes.repartition")
		}
		if fmt.Sprint(names) != fmt.Sprint(want) {
			t.Errorf("kafka key %v: names %v, want %v", k.kafka.Key, names, want)
		}
	}
}
