package kafka_test

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

// TestSurvivesRestart checks that what the sinks provision survives a broker restart with
// kfake.DataDir (as under evctl dev): a later plan is all noop.
func TestSurvivesRestart(t *testing.T) {
	kc := kafkatest.Start(t, kfake.DataDir(t.TempDir()))
	creds := kafka.NewFileCredentials(t.TempDir(), noEnv)
	spec, _ := kafka.NewTopicSpec(2, "7d", nil)
	want := struct{ topic, user, acl sink.Desired }{
		topicWant("local.feed.kept.v1", spec), userWant("growth"), aclWant("local.feed.kept.v1", []string{"growth"}, nil),
	}
	provision := func(apply bool) []sink.Action {
		admin := kafkatest.Admin(t, kc)
		var got []sink.Action
		for _, step := range []struct {
			s sink.Sink
			d sink.Desired
		}{
			{kafka.NewTopicSink(admin), want.topic}, {kafka.NewUserSink(admin, creds), want.user}, {kafka.NewACLSink(admin), want.acl},
		} {
			cs := plan(t, step.s, step.d)
			got = append(got, cs[0].Action)
			if apply {
				applyAll(t, step.s.(sink.BatchApplier), cs)
			}
		}
		return got
	}
	if got := provision(true); !reflect.DeepEqual(got, []sink.Action{sink.Create, sink.Create, sink.Create}) {
		t.Fatalf("first plan: %v", got)
	}
	kc.Restart(t)
	if got := provision(false); !reflect.DeepEqual(got, []sink.Action{sink.Noop, sink.Noop, sink.Noop}) {
		t.Fatalf("plan after restart: %v", got)
	}
	if err := produce(testCtx(t), teamClient(t, kc, creds, "growth"), "local.feed.kept.v1"); err != nil {
		t.Fatalf("growth produces after restart: %v", err)
	}
}
