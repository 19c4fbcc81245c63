package bigquery_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
)

// checkExactlyOnce reads the table through the emulator's query API and compares it with the
// events produced: as many rows as events, and the event_id multiset equal to the produced set.
func checkExactlyOnce(t *testing.T, f *fixture, want []string) {
	t.Helper()
	agg := f.query(t, fmt.Sprintf("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS ids FROM `%s.%s.%s`", project, dataset, tableID))
	if got, w := fmt.Sprint(agg[0]["n"], " ", agg[0]["ids"]), fmt.Sprint(len(want), " ", len(want)); got != w {
		dups := f.query(t, fmt.Sprintf("SELECT event_id, COUNT(*) AS c FROM `%s.%s.%s` GROUP BY event_id HAVING c > 1 ORDER BY event_id LIMIT 5", project, dataset, tableID))
		t.Fatalf("rows, distinct event_ids = %s, want %s (duplicates: %v)", got, w, dups)
	}
	got := f.eventIDs(t)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("the table's event_ids are not the %d produced", len(want))
	}
}

// TestBatchKill9ExactlyOnce kills the batch worker process with SIGKILL at the two points of a
// load where a crash matters (the manifest written but the job not inserted; the job DONE but
// the offsets not committed), then at random points of the run, restarting it each time, and
// checks through the emulator's query API that every event is in the table exactly once.
func TestBatchKill9ExactlyOnce(t *testing.T) {
	blobtest.FakeGCS(t, "stage")
	f := newFixture(t)
	rest := startRESTProxy(t, f.emu.restURL())
	const n = 4000
	vs, want := values(t, f.md, 0, n)
	spec := f.batchSpec(rest.url, 200*time.Millisecond)

	// Each of these workers has new events to load before it dies (the one before it loaded
	// everything it could read).
	for i, at := range []string{"done", "manifest", "done"} {
		f.produce(t, f.sha, vs[i*n/6:(i+1)*n/6])
		s := spec
		s.KillAt = at
		c := startChild(t, s)
		if err := c.wait(t); err == nil {
			t.Fatalf("the worker told to die at %q exited cleanly", at)
		}
		rest.settle(t)
	}

	// Then random kills while events keep arriving, so that loads run all along and a kill
	// lands anywhere: in a load's insert, between loads, during a rebalance.
	produced := make(chan error, 1)
	go func() { produced <- f.produceSlowly(vs[n/2:], 50, 250*time.Millisecond) }()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for k := 0; k < 5; k++ {
		c := startChild(t, spec)
		time.Sleep(time.Duration(1500+rng.IntN(3500)) * time.Millisecond)
		c.kill()
		rest.settle(t)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}

	c := startChild(t, spec)
	waitFor(t, "every event in the table", func() bool { return len(distinct(f.eventIDs(t))) >= n })
	// Killed too (it may not even have set up its signal handling if the others had loaded
	// everything): nothing runs while the table is checked.
	c.kill()
	rest.settle(t)
	checkExactlyOnce(t, f, want)
}

// produceSlowly produces values in batches of size, one batch per pause (it runs beside the
// test's goroutine, so it returns its error instead of failing the test).
func (f *fixture) produceSlowly(values [][]byte, size int, pause time.Duration) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.kc.Addrs...),
		kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: f.kc.AdminPassword}.AsSha256Mechanism()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for i := 0; i < len(values); i += size {
		var rs []*kgo.Record
		for j := i; j < min(i+size, len(values)); j++ {
			rs = append(rs, &kgo.Record{Topic: f.topic, Partition: int32(j % 2), Value: values[j], Headers: []kgo.RecordHeader{
				{Key: worker.HeaderEvent, Value: []byte(eventID)}, {Key: worker.HeaderSchema, Value: []byte(f.sha)}}})
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			return err
		}
		time.Sleep(pause)
	}
	return nil
}
