package count

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestRepartitionSkipsReforwarded: a worker that forwarded records to the repartition topics and
// died before its source fences moved leaves them there; its successor forwards them again (from
// the fences). Here the first, crashed, forwarding is made by the test: copies of the first half
// of every source partition, exactly as forward makes them. The worker then counts every record
// once (the evctl-src marks skip the second copies) and each milestone once. Real kfake and Redis.
func TestRepartitionSkipsReforwarded(t *testing.T) {
	f := newFixture(t, 4)
	f.repartition = true
	ctx := context.Background()
	for _, topic := range f.topics()[1:] {
		if _, err := f.adm.CreateTopic(ctx, f.parts, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	f.produce(20_000, 2_000, 9)
	fd := f.md.Fields()
	ends, err := f.adm.ListEndOffsets(ctx, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	var copies []*kgo.Record
	f.readAll(testTopic, func(r *kgo.Record) {
		end, _ := ends.Lookup(testTopic, r.Partition)
		if r.Offset >= end.Offset/2 {
			return
		}
		m := dynamicpb.NewMessage(f.md)
		if err := proto.Unmarshal(r.Value, m); err != nil {
			t.Fatal(err)
		}
		key := m.Get(fd.ByName("post_id")).String()
		hs := append(append([]kgo.RecordHeader{}, r.Headers...),
			kgo.RecordHeader{Key: HeaderSource, Value: []byte(fmt.Sprintf("%d:%d", r.Partition, r.Offset))})
		if m.Get(fd.ByName("action")).Enum() == 1 {
			copies = append(copies, &kgo.Record{Topic: RepartitionTopic(testEnv, "post_likes"), Key: []byte(key), Value: r.Value, Headers: hs})
		}
		if m.Get(fd.ByName("weight")).Int() != 0 {
			copies = append(copies, &kgo.Record{Topic: RepartitionTopic(testEnv, "post_weight"), Key: []byte(key), Value: r.Value, Headers: hs})
		}
	})
	if err := f.cl.ProduceSync(ctx, copies...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	store := f.openStore()
	w := f.child("")
	f.settled(store, 2*time.Minute)
	// A graceful stop: the milestones of the last write follow its fence.
	_ = w.Process.Signal(syscall.SIGTERM)
	if err := w.Wait(); err != nil {
		t.Fatalf("count did not stop cleanly: %v", err)
	}
	forwarded := 0
	for _, topic := range f.topics()[1:] {
		f.readAll(topic, func(*kgo.Record) { forwarded++ })
	}
	_, hits := f.exactHits()
	if int64(forwarded) != hits+int64(len(copies)) || len(copies) == 0 {
		t.Fatalf("%d records in the repartition topics, want %d hits + %d crashed copies", forwarded, hits, len(copies))
	}
	f.check(store)
}
