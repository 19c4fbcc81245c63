package dlq_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/dlq"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/sink/sinktest"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// want is a dead-letter topic as Def.Desire builds one, for source topic "suite.t<n>".
func want(t *testing.T, n int) sink.Desired {
	spec, err := dlq.NewSpec(2, "", nil, []string{"growth"}, []string{"analytics"})
	if err != nil {
		t.Fatal(err)
	}
	name := kafka.DLQName(fmt.Sprintf("suite.t%d", n))
	spec.ACL.Topic = name
	return sink.NewDesired("suite/t", dlq.Kind, name, "staging", spec, nil)
}

// TestConformance runs the shared sink suite against kfake (SASL and ACLs on): drift, foreign
// topics and refusals are made on the cluster itself, with its admin API and a kfake fault.
func TestConformance(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	sinktest.Run(t, sinktest.Case{
		Sink: dlq.New(c, "growth", "analytics"),
		New:  want,
		Drift: func(t *testing.T, d sink.Desired) {
			res, err := c.Admin().AlterTopicConfigs(testCtx(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")}}, d.Name)
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
		Foreign: func(t *testing.T, n int) sink.Desired {
			d := want(t, n)
			if _, err := c.Admin().CreateTopic(testCtx(t), 1, -1, nil, d.Name); err != nil {
				t.Fatal(err)
			}
			return d
		},
	})
}

// TestACLDrift: an access entry removed by hand is an update of the dead-letter topic that puts
// it back, and nothing else changes.
func TestACLDrift(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	s := dlq.New(c, "growth", "analytics")
	d := want(t, 1)
	cs := sinktest.Plan(t, s, d)
	for i, err := range s.ApplyBatch(testCtx(t), cs) {
		if err != nil {
			t.Fatalf("apply %s: %v", cs[i].ID(), err)
		}
	}
	del := kadm.NewACLs().Allow("User:analytics").AllowHosts().Topics(d.Name).Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)
	if _, err := c.Admin().DeleteACLs(testCtx(t), del); err != nil {
		t.Fatal(err)
	}
	cs = sinktest.Plan(t, s, d)
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

func TestNewSpec(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retention string
		configs   map[string]string
		want      string
	}{
		{"broker default → 7d", "", nil, "604800000"},
		{"the source's retention", "12h", nil, "43200000"},
		{"the source's retention.ms", "", map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}, "1000"},
		{"forever", "-1", nil, "-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := dlq.NewSpec(3, tc.retention, tc.configs, []string{"p"}, []string{"c", "c"})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Topic.Configs[kafka.RetentionKey]; got != tc.want {
				t.Errorf("retention.ms = %q, want %q", got, tc.want)
			}
			if s.Topic.Configs["cleanup.policy"] != "delete" || s.Topic.Partitions != 3 || len(s.Topic.Configs) != 2 {
				t.Errorf("topic = %+v, want 3 partitions, cleanup.policy delete and retention only", s.Topic)
			}
			if fmt.Sprint(s.ACL.Producers, s.ACL.Consumers) != "[c p] [c]" {
				t.Errorf("acl = %+v, want producers [c p] (consumers write dead letters), consumers [c]", s.ACL)
			}
		})
	}
	if _, err := dlq.NewSpec(1, "7x", nil, nil, nil); err == nil {
		t.Error("a bad retention: no error")
	}
}
