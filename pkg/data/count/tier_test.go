package count

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/data/worker"
)

// TestTierCrossingThroughTheStore: the worker chooses a key's window by the value the store
// holds when the window opens. Below 50 a key is written every 100 ms; once the store says 51 its
// next window is the 300 ms one, so a flush 100 ms later writes nothing and the one at the end of
// the 300 ms window writes it. Real kfake and Redis, a fake clock.
func TestTierCrossingThroughTheStore(t *testing.T) {
	f := newFixture(t, 1)
	ctx := context.Background()
	ms, err := CompileMilestone(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store := f.openStore()
	clock := time.UnixMilli(3_000_000) // on a boundary of every tier
	h, err := New(Config{Env: testEnv, Group: Group(testEnv), Store: store, Milestone: ms,
		Kafka: kafkaOpts(f.kc.Addrs, f.kc.AdminPassword), Now: func() time.Time { return clock },
		Events: []EventCounters{{Event: testEvent, Counters: testCounters()[:1]}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	tp := worker.TopicPartition{Topic: testTopic, Partition: 0}
	if _, err := h.Assigned(ctx, []worker.TopicPartition{tp}); err != nil {
		t.Fatal(err)
	}
	schema := &worker.Schema{SHA256: f.sha, Event: testEvent, Message: f.md}
	offset := int64(0)
	like := func(n int) {
		for i := 0; i < n; i++ {
			m := dynamicpb.NewMessage(f.md)
			m.Set(f.md.Fields().ByName("post_id"), protoreflect.ValueOfString("k"))
			m.Set(f.md.Fields().ByName("action"), protoreflect.ValueOfEnum(1))
			v, _ := proto.Marshal(m)
			if err := h.Handle(ctx, &worker.Record{Record: &kgo.Record{Topic: testTopic, Offset: offset, Value: v}, Schema: schema}); err != nil {
				t.Fatal(err)
			}
			offset++
		}
	}
	flushAt := func(ms int64) (value, keyWrites int64) {
		t.Helper()
		clock = time.UnixMilli(3_000_000 + ms)
		if _, err := h.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		v, err := store.Get(ctx, "post_likes", []string{"k"})
		if err != nil {
			t.Fatal(err)
		}
		return v[0], h.Stats().KeyWrites
	}
	like(49) // value 0: the 100 ms tier
	if v, w := flushAt(100); v != 49 || w != 1 {
		t.Fatalf("after the first 100 ms window: value %d, %d key writes", v, w)
	}
	clock = time.UnixMilli(3_000_000 + 110)
	like(2) // value 49 < 50: still the 100 ms tier
	if v, w := flushAt(200); v != 51 || w != 2 {
		t.Fatalf("after the second 100 ms window: value %d, %d key writes", v, w)
	}
	clock = time.UnixMilli(3_000_000 + 310)
	like(1) // value 51 >= 50: the 300 ms tier, window [300, 600)
	if v, w := flushAt(400); v != 51 || w != 2 {
		t.Fatalf("the slower window was written early: value %d, %d key writes", v, w)
	}
	if v, w := flushAt(600); v != 52 || w != 3 {
		t.Fatalf("after the 300 ms window: value %d, %d key writes", v, w)
	}
}
