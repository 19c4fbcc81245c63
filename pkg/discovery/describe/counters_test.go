package describe

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/count"
	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/embedded"
)

// TestCounterLagIncludesRepartition: a count group caught up on the event's topic but behind on
// a counter's repartition topic is behind on the counter, and describe says so (kfake, the
// embedded store for the totals).
func TestCounterLagIncludesRepartition(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kc := kafkatest.Start(t)
	adm := kafkatest.Admin(t, kc).Admin()
	src, rep := "prod.feed.post_liked.v1", count.RepartitionTopic("prod", "likes_by_author")
	for _, topic := range []string{src, rep} {
		if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: kc.AdminPassword}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// 5 records in each source partition, 4 in each repartition partition.
	for topic, n := range map[string]int{src: 5, rep: 4} {
		for p := int32(0); p < 2; p++ {
			for i := 0; i < n; i++ {
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("x")}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	group := count.Group("prod")
	commit := func(topic string, offs map[int32]int64) {
		t.Helper()
		o := kadm.Offsets{}
		for p, at := range offs {
			o.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
		}
		if err := adm.CommitAllOffsets(ctx, group, o); err != nil {
			t.Fatalf("commit %s: %v", topic, err)
		}
	}
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The fences the workers keep: running totals per partition in the outbox.
	for topic, events := range map[string]int64{src: 5, rep: 4} {
		for p := 0; p < 2; p++ {
			scope := group + "/" + topic + "/" + strconv.Itoa(p)
			box := []byte(`{"at":1,"events":` + strconv.FormatInt(events, 10) + `,"writes":1}`)
			if _, err := store.Apply(ctx, counterstore.Batch{Scope: scope, Prev: -1, Offset: events - 1, Outbox: box}); err != nil {
				t.Fatal(err)
			}
		}
	}
	describeLive := func() *Report {
		r := &Report{Env: "prod", Counters: []Counter{{Name: "likes_by_author"}}}
		r.AddCounters(ctx, adm, store, nil, []string{src, rep})
		if len(r.Errors) > 0 {
			t.Fatalf("errors: %v", r.Errors)
		}
		return r
	}

	// No count worker has run: the lag is unknown, and that is not an error.
	l := describeLive().CounterLive
	if l.Lag != -1 || len(l.Topics) != 2 || l.Topics[0].Lag != -1 || l.Topics[1].Lag != -1 || l.Totals.Counted != 0 {
		t.Fatalf("before any commit: %+v", l)
	}

	// Caught up on the source, nothing committed on the repartition topic yet.
	commit(src, map[int32]int64{0: 5, 1: 5})
	l = describeLive().CounterLive
	if l.Lag != 0 || len(l.Topics) != 2 || l.Topics[0].Topic != src || l.Topics[0].Lag != 0 || l.Topics[1].Topic != rep || l.Topics[1].Lag != -1 {
		t.Fatalf("before any repartition commit: %+v", l)
	}
	if l.Totals.Counted != 10 || l.Totals.KeyWrites != 2 {
		t.Fatalf("totals before any repartition commit (source fences only): %+v", l.Totals)
	}

	// Behind by 3 on the repartition topic: the counter's lag is 3.
	commit(rep, map[int32]int64{0: 1, 1: 4})
	l = describeLive().CounterLive
	if l.Lag != 3 || l.Topics[0].Lag != 0 || l.Topics[1].Lag != 3 {
		t.Fatalf("behind on the repartition topic: %+v", l)
	}
	if p := l.Topics[1].Partitions; len(p) != 2 || p[0].Partition != 0 || p[0].Committed != 1 || p[0].End != 4 || p[0].Lag != 3 || p[1].Lag != 0 {
		t.Fatalf("repartition partitions: %+v", p)
	}
	if l.Totals.Counted != 18 || l.Totals.KeyWrites != 4 || l.Totals.Fenced != 4 {
		t.Fatalf("totals over both topics: %+v", l.Totals)
	}

	// Kafka not reachable: the lag is unknown and said in the errors (the totals need the
	// partitions the group holds, so there are none either).
	r := &Report{Env: "prod", Counters: []Counter{{Name: "likes_by_author"}}}
	r.AddCounters(ctx, nil, store, nil, []string{src, rep})
	if r.CounterLive.Lag != -1 || len(r.Errors) != 1 || r.CounterLive.Totals.Counted != 0 {
		t.Fatalf("without kafka: %+v %v", r.CounterLive, r.Errors)
	}
}
