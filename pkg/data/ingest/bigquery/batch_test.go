package bigquery_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/api/option"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/data/ingest/bigquery"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
)

// startBatch runs the batch (load job) handler with a short cadence, staging in gs://stage/in,
// reaching BigQuery's REST API at rest (the emulator, or a proxy in front of it).
func (f *fixture) startBatch(t *testing.T, staging blob.Store, cadence time.Duration, rest string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := bq.NewClient(ctx, project, option.WithEndpoint(rest), option.WithoutAuthentication())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tc := f.schema
	tc.Flush = cadence
	const group = "evctl.local.ingest.bigquery"
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := bigquery.NewBatchHandler(bigquery.BatchConfig{Group: group, Tables: []bigquery.TableConfig{tc}, Client: c,
		Staging: staging, StagingURL: "gs://stage/in", Logger: log})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	st, err := blob.Open(ctx, "file://"+f.descDir)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w, err := worker.New(worker.Config{Name: "ingest/bigquery", Group: group, Topics: []string{f.topic},
		Kafka:    []kgo.Opt{kgo.SeedBrokers(f.kc.Addrs...), kgo.SASL(scram.Auth{User: kafkatest.AdminUser, Pass: f.kc.AdminPassword}.AsSha256Mechanism())},
		Registry: worker.NewRegistry(st), Handler: h, Logger: log, PollInterval: 100 * time.Millisecond, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{w: w, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := w.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
		_ = c.Close()
	}()
	t.Cleanup(r.stop)
	return r
}

// TestBatchLoadJobsIntoEmulator: in batch mode, records become Parquet files staged in GCS
// (fake-gcs-server) and one load job per cadence appends them; the emulator's query API reads
// every event once, with the values converted, and the staged files are gone after their job.
func TestBatchLoadJobsIntoEmulator(t *testing.T) {
	blobtest.FakeGCS(t, "stage") // before the emulator starts: it reads gs:// through it
	f := newFixture(t)
	staging, err := blob.Open(t.Context(), "gs://stage/in")
	if err != nil {
		t.Fatal(err)
	}
	vs, want := values(t, f.md, 0, 50)
	f.produce(t, f.sha, vs[:30])
	r := f.startBatch(t, staging, 500*time.Millisecond, f.emu.restURL())
	waitFor(t, "the first 30 rows", func() bool { return len(f.eventIDs(t)) >= 30 })
	f.produce(t, f.sha, vs[30:])
	waitFor(t, "50 rows", func() bool { return len(f.eventIDs(t)) >= 50 })
	r.stop()
	got := f.eventIDs(t)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("event_ids = %d (%d distinct), want the 50 produced once each", len(got), len(distinct(got)))
	}
	rows := f.query(t, fmt.Sprintf("SELECT s, b, i64, u32, d, e, tags, device.model AS model, w64, event_time, CAST(u64 AS STRING) AS u64 FROM `%s.%s.%s` WHERE event_id = 'e000007'", project, dataset, tableID))
	if len(rows) != 1 {
		t.Fatalf("%d rows for e000007, want 1", len(rows))
	}
	for col, want := range map[string]string{"s": "héllo 7", "b": "true", "i64": "-1099511627776", "u32": "4294967295", "d": "-2.25",
		"e": "B", "tags": "[x y]", "model": "pixel", "w64": "64", "u64": "18446744073709551615"} {
		if g := fmt.Sprint(rows[0][col]); g != want {
			t.Errorf("column %s = %q, want %q", col, g, want)
		}
	}
	if ts, ok := rows[0]["event_time"].(time.Time); !ok || !ts.Equal(time.Date(2026, 11, 1, 10, 0, 7, 0, time.UTC)) {
		t.Errorf("event_time = %v, want 2026-11-01T10:00:07Z", rows[0]["event_time"])
	}
	left, err := staging.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	// Every staged file is gone; what stays is, per partition, the newest load's manifest (it
	// holds where the partition resumes): at most one per partition of the topic's two.
	manifests := 0
	for _, k := range left {
		if strings.Contains(k, "/_manifests/") {
			manifests++
		} else {
			t.Errorf("staged file left after its load job: %s", k)
		}
	}
	if manifests < 1 || manifests > 2 {
		t.Errorf("%d load manifests left (%v), want one or two (the newest per partition)", manifests, left)
	}
}

// TestBatchEmulatorDownRetries: BigQuery becomes unreachable (every connection to its REST API
// dropped and refused by a proxy) while files are staged and their load is due; the load is
// retried (offsets stay uncommitted) and, once BigQuery is back, every event is in the table (at
// least once: duplicates allowed, nothing missing). The emulator itself is not restarted: v0.6.6
// restarted on its database panics on load jobs (it does not reload the dataset's metadata).
func TestBatchEmulatorDownRetries(t *testing.T) {
	blobtest.FakeGCS(t, "stage")
	f := newFixture(t)
	staging, err := blob.Open(t.Context(), "gs://stage/in")
	if err != nil {
		t.Fatal(err)
	}
	vs, want := values(t, f.md, 0, 40)
	f.produce(t, f.sha, vs[:20])
	rest := startProxy(t, strings.TrimPrefix(f.emu.restURL(), "http://"))
	r := f.startBatch(t, staging, 300*time.Millisecond, "http://"+rest.addr())
	waitFor(t, "the first 20 rows", func() bool { return len(distinct(f.eventIDs(t))) >= 20 })
	rest.cut()
	f.produce(t, f.sha, vs[20:])
	waitFor(t, "a staged file and a failed load", func() bool {
		keys, err := staging.List(t.Context(), "")
		return err == nil && len(keys) > 0 && flushErrors(t, r) > 0
	})
	rest.restore()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("emulator log:\n%s", f.emu.logs.String())
		}
	})
	waitFor(t, "every event after BigQuery came back", func() bool { return len(distinct(f.eventIDs(t))) >= 40 })
	r.stop()
	if got := distinct(f.eventIDs(t)); !slices.Equal(got, want) {
		t.Errorf("distinct event_ids = %d, want the 40 produced", len(got))
	}
}

// flushErrors reads evctl_worker_flush_errors_total from the worker's registry.
func flushErrors(t testing.TB, r *running) float64 {
	t.Helper()
	mfs, err := r.w.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "evctl_worker_flush_errors_total" && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
