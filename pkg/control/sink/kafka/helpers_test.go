package kafka_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

// testCtx bounds every test's I/O so a hung broker fails the test instead of hanging it.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// plan observes and diffs want, failing t on error.
func plan(t testing.TB, s sink.Sink, want ...sink.Desired) []sink.Change {
	t.Helper()
	have, err := s.Observe(testCtx(t), want)
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	cs, err := s.Diff(want, have)
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	return cs
}

// applyAll applies every change with ApplyBatch, failing t on any error.
func applyAll(t testing.TB, s sink.BatchApplier, cs []sink.Change) {
	t.Helper()
	for i, err := range s.ApplyBatch(testCtx(t), cs) {
		if err != nil {
			t.Fatalf("apply %s %s: %v", cs[i].Action, cs[i].ID(), err)
		}
	}
}

func actions(cs []sink.Change) []sink.Action {
	out := make([]sink.Action, len(cs))
	for i, c := range cs {
		out[i] = c.Action
	}
	return out
}

func topicWant(name string, spec kafka.TopicSpec) sink.Desired {
	return sink.Desired{Event: "feed/" + name, Kind: kafka.KindTopic, Name: name, Stage: "staging", Spec: spec}
}

// countRequests counts the requests of one key that match, through a control function that
// never handles them (so it stays installed and the broker answers normally).
func countRequests(kc *kafkatest.Cluster, key kmsg.Key, match func(kmsg.Request) bool) *atomic.Int64 {
	n := new(atomic.Int64)
	kc.ControlKey(int16(key), func(r kmsg.Request) (kmsg.Response, error, bool) {
		if match == nil || match(r) {
			n.Add(1)
		}
		return nil, nil, false
	})
	return n
}
