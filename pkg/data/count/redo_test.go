package count

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/data/worker"
)

// TestRedoAfterCrashBetweenWriteAndProduce: the store took a window but the process died before
// its changelog and milestone records were produced. The next owner redoes them from the
// outbox; an owner after that finds them already produced and adds none. Real kfake and Redis.
func TestRedoAfterCrashBetweenWriteAndProduce(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	ms, err := CompileMilestone(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store := f.openStore()
	clock := time.UnixMilli(1_000_000)
	newHandler := func() *Handler {
		h, err := New(Config{Env: testEnv, Group: Group(testEnv), Store: store, Milestone: ms,
			Kafka: kafkaOpts(f.kc.Addrs, f.kc.AdminPassword), Now: func() time.Time { return clock },
			Events: []EventCounters{{Event: testEvent, Counters: testCounters()}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		return h
	}
	tp := worker.TopicPartition{Topic: testTopic, Partition: 0}
	h1 := newHandler()
	if _, err := h1.Assigned(ctx, []worker.TopicPartition{tp}); err != nil {
		t.Fatal(err)
	}
	schema := &worker.Schema{SHA256: f.sha, Event: testEvent, Message: f.md}
	for i := 0; i < 120; i++ { // 120 likes of p1: milestones 10 and 100
		m := dynamicpb.NewMessage(f.md)
		m.Set(f.md.Fields().ByName("post_id"), protoreflect.ValueOfString("p1"))
		m.Set(f.md.Fields().ByName("action"), protoreflect.ValueOfEnum(1))
		v, _ := proto.Marshal(m)
		if err := h1.Handle(ctx, &worker.Record{Record: &kgo.Record{Topic: testTopic, Offset: int64(i), Value: v}, Schema: schema}); err != nil {
			t.Fatal(err)
		}
	}
	clock = clock.Add(time.Minute)
	h1.beforeEmit = func() error { return errors.New("killed") }
	_, err = h1.Flush(ctx)
	var rw *worker.RewindError
	if !errors.As(err, &rw) {
		t.Fatalf("flush with a crash before produce: %v, want a rewind", err)
	}
	if v, _ := store.Get(ctx, "post_likes", []string{"p1"}); v[0] != 120 {
		t.Fatalf("store has %d, want 120", v[0])
	}
	if got := f.milestones(ms); len(got) != 0 {
		t.Fatalf("milestones before the redo: %v", got)
	}
	for round := 1; round <= 2; round++ {
		pos, err := newHandler().Assigned(ctx, []worker.TopicPartition{tp})
		if err != nil {
			t.Fatal(err)
		}
		if pos[tp] != 120 {
			t.Fatalf("round %d: position %d, want 120 (after the fence)", round, pos[tp])
		}
		if got := f.milestones(ms); fmt.Sprint(got) != "map[post_likes/p1/10:1 post_likes/p1/100:1]" {
			t.Fatalf("round %d: milestones %v, want 10 and 100 once each", round, got)
		}
	}
	var last string
	f.readAll(ChangelogTopic(testEnv, "post_likes"), func(r *kgo.Record) { last = string(r.Value) })
	if last != `{"counter":"post_likes","key":"p1","value":120}` {
		t.Fatalf("changelog: %s", last)
	}
}

// milestones counts the records on the milestones topic by counter/key/milestone.
func (f *fixture) milestones(ms *MilestoneSchema) map[string]int {
	out := map[string]int{}
	f.readAll(MilestonesTopic(testEnv), func(r *kgo.Record) {
		m, err := ms.Decode(r.Value)
		if err != nil {
			f.t.Fatal(err)
		}
		out[fmt.Sprintf("%s/%s/%d", m.Counter, m.Key, m.Milestone)]++
	})
	return out
}
