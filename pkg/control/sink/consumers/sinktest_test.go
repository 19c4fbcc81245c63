package consumers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/consumers"
	"github.com/evctl/evctl/pkg/control/sink/dlq"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/sink/sinktest"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

const env = "suite"

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func openStore(t *testing.T, url string) blob.Store {
	t.Helper()
	st, err := blob.Open(testCtx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// def is consumer c<n>'s definition resource as Def.Desire builds one.
func def(t *testing.T, n int, tpl string) sink.Desired {
	t.Helper()
	name := fmt.Sprintf("c%d", n)
	c := &consumer.Consumer{Name: name, Owner: consumer.Owner{Team: "growth"}, Events: []string{"suite/t"}, Transform: tpl,
		Deliver: consumer.Deliver{HTTP: &consumer.HTTP{URLEnv: "URL"}}}
	spec, err := consumers.NewDefinitionSpec(c.Definition(consumer.Placement{Topics: map[string]string{"suite/t": "suite.t"},
		Group: consumer.Group(env, name), DLQ: consumer.DLQTopic(env, name)}))
	if err != nil {
		t.Fatal(err)
	}
	return sink.NewDesired(consumers.EventOf(name), consumers.Kind, consumers.DefName(name), "staging", consumers.Spec{Definition: spec}, nil)
}

// dlqTopic is consumer c<n>'s dead-letter topic resource as Def.Desire builds one.
func dlqTopic(t *testing.T, n int) sink.Desired {
	t.Helper()
	name := fmt.Sprintf("c%d", n)
	spec, err := dlq.NewSpec(2, "", nil, []string{"growth"}, []string{"growth"})
	if err != nil {
		t.Fatal(err)
	}
	spec.ACL.Topic = consumer.DLQTopic(env, name)
	return sink.NewDesired(consumers.EventOf(name), consumers.Kind, spec.ACL.Topic, "staging", consumers.Spec{Topic: &spec}, nil)
}

// TestConformanceDefinitions runs the shared suite on definition resources against kfake (SASL
// and ACLs on) and the descriptor store on disk and on fake-gcs-server: drift is an index
// entry pointed elsewhere by hand, a refusal is kfake failing the group ACL's creation, a
// foreign definition is one published outside this repository's state.
func TestConformanceDefinitions(t *testing.T) {
	for _, backend := range []string{"file", "gs"} {
		t.Run(backend, func(t *testing.T) {
			url := "file://" + t.TempDir()
			if backend == "gs" {
				blobtest.FakeGCS(t, "evctl-test")
				url = "gs://evctl-test/descriptors"
			}
			st := openStore(t, url)
			kc := kafkatest.Start(t)
			c := kafkatest.Admin(t, kc)
			sinktest.Run(t, sinktest.Case{
				Sink: consumers.New(c, st, env, "growth", "analytics"),
				New:  func(t *testing.T, n int) sink.Desired { return def(t, n, `{{json .}}`) },
				Drift: func(t *testing.T, d sink.Desired) {
					other := d.Spec.(consumers.Spec).Definition.Def
					changed := *other
					changed.Transform = `{"changed": true}`
					e, err := descstore.WriteConsumerDef(testCtx(t), st, &changed)
					if err != nil {
						t.Fatal(err)
					}
					if err := descstore.UpdateConsumerIndex(testCtx(t), st, func(ix *descstore.ConsumerIndex) { ix.Consumers[other.Name] = e }); err != nil {
						t.Fatal(err)
					}
				},
				Bad: func(t *testing.T, n int) (sink.Desired, func(*testing.T)) {
					d := def(t, n, `{{json .}}`)
					kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateACLs}, Resource: consumer.Group(env, fmt.Sprintf("c%d", n)), Err: kerr.PolicyViolation, Count: -1})
					return d, nil
				},
				Foreign: func(t *testing.T, n int) sink.Desired {
					d := def(t, n, `{{json .}}`)
					if err := descstore.PublishConsumers(testCtx(t), st, []*descstore.ConsumerDef{d.Spec.(consumers.Spec).Definition.Def}, nil); err != nil {
						t.Fatal(err)
					}
					return d
				},
			})
		})
	}
}

// TestConformanceTopics runs the shared suite on a consumer's dead-letter topic against kfake.
func TestConformanceTopics(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	sinktest.Run(t, sinktest.Case{
		Sink: consumers.New(c, openStore(t, "file://"+t.TempDir()), env, "growth", "analytics"),
		New:  dlqTopic,
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
			d := dlqTopic(t, n)
			kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: d.Name, Err: kerr.PolicyViolation, Count: -1})
			return d, nil
		},
		Foreign: func(t *testing.T, n int) sink.Desired {
			d := dlqTopic(t, n)
			if _, err := c.Admin().CreateTopic(testCtx(t), 1, -1, nil, d.Name); err != nil {
				t.Fatal(err)
			}
			return d
		},
	})
}

// TestApplyRefusesBadChanges: a change with no wanted spec, or an action apply does not run
// (blocked, replace), fails alone with an error, never a panic; the good one beside it applies.
func TestApplyRefusesBadChanges(t *testing.T) {
	kc := kafkatest.Start(t)
	c := kafkatest.Admin(t, kc)
	st := openStore(t, "file://"+t.TempDir())
	s := consumers.New(c, st, env, "growth")
	good := sinktest.Plan(t, s, def(t, 1, `{{json .}}`))[0]
	noSpec := sink.Change{Kind: consumers.Kind, Name: consumers.DefName("c2"), Action: sink.Create}
	noTopicSpec := sink.Change{Kind: consumers.Kind, Name: "suite.consumers.c3.dlq", Action: sink.Create}
	blocked := good
	blocked.Name, blocked.Action = consumers.DefName("c4"), sink.Blocked
	errs := s.ApplyBatch(testCtx(t), []sink.Change{noSpec, noTopicSpec, blocked, good})
	for i, err := range errs[:3] {
		if err == nil {
			t.Errorf("change %d applied, want an error", i)
		}
	}
	if errs[3] != nil {
		t.Fatalf("the good change failed: %v", errs[3])
	}
	if cs := sinktest.Plan(t, s, def(t, 1, `{{json .}}`)); cs[0].Action != sink.Noop {
		t.Fatalf("after apply: %s %+v", cs[0].Action, cs[0].Diff)
	}
}
