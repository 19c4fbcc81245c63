package ingest_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/data/ingest"
	"github.com/evctl/evctl/pkg/data/ingest/bigquery/bqemulator"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/devstack"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// The repository of these tests: one streaming and one batch event with a BigQuery table, in a
// local environment whose BigQuery is an emulator (endpoint_env) staging batch loads at
// bigquery.staging_url (%s: the whole bigquery block, so a test can drop staging_url).
const bqConfig = `version: 1
naming:
  topic: "{env}.{domain}.{event}.v{major}"
  bigquery_table: "{domain}__{event}_v{major}"
  proto_package: "events.{domain}.v{major}"
platform_fields:
  - {name: event_id,   type: string,    mode: required, number: 1000}
  - {name: event_time, type: timestamp, mode: required, number: 1001}
teams:
  growth:    {pods: [feed], github: ["@acme/growth"]}
  analytics: {pods: [core], github: ["@acme/analytics"]}
environments:
  local:
    stages: [staging, prod]
    kafka: {brokers: [%q], sasl: {mechanism: SCRAM-SHA-256, user_env: EVCTL_KAFKA_USER, password_env: EVCTL_KAFKA_PASSWORD}}
    descriptors: {url: "gs://evctl-local/descriptors"}
    state: {url: "gs://evctl-local/state"}
    bigquery: %s
    credentials_dir: .evctl/credentials
`

const bqEvent = `name: %s
domain: feed
owner: {team: growth, pod: feed}
description: A test event.
stage: staging
major: 1
schema:
  fields:
    - {name: item_id, type: string, mode: required, number: 1}
sinks:
  kafka: {partitions: 2, retention: 1d}
  bigquery: {partition_by: event_time}
ingestion: %s
access: {producers: [growth], consumers: [analytics]}
`

func bqRepo(t *testing.T, bigquery string) *workspace.Workspace {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0") // the Kafka address (devstack starts kfake there)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	for rel, content := range map[string]string{
		"evctl.yaml":                        fmt.Sprintf(bqConfig, l.Addr().String(), bigquery),
		"contracts/feed/item_clicked.yaml":  fmt.Sprintf(bqEvent, "item_clicked", "{mode: streaming, flush: 200ms}"),
		"contracts/feed/item_imported.yaml": fmt.Sprintf(bqEvent, "item_imported", "{mode: batch, cadence: 300ms}"),
	} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := workspace.Open(filepath.Join(dir, config.FileName), dir)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestBuildBigQueryBatchNeedsGCSStaging: a batch table without a gs:// bigquery.staging_url is
// an error naming the setting, before anything is started.
func TestBuildBigQueryBatchNeedsGCSStaging(t *testing.T) {
	for _, block := range []string{
		`{project: local, dataset: events, endpoint_env: BQ}`,
		`{project: local, dataset: events, endpoint_env: BQ, staging_url: "file://stage"}`,
	} {
		ws := bqRepo(t, block)
		_, err := ingest.Build(t.Context(), ingest.Options{Env: "local", Project: ws.Project, Events: ws.Events,
			Getenv: func(k string) string { return map[string]string{"BQ": "127.0.0.1:1", "BQ_GRPC": "127.0.0.1:2"}[k] }})
		if err == nil || !strings.Contains(err.Error(), "set bigquery.staging_url (gs://bucket/prefix)") {
			t.Errorf("%s: err = %v, want one naming bigquery.staging_url", block, err)
		}
	}
}

// TestBigQueryIngestionOnDevStack is `evctl dev` with BigQuery, end to end: the local stack
// (kfake, fake-gcs-server, the BigQuery emulator it starts), apply, then ingest.Build with the
// default sinks, which runs the streaming table through the Storage Write API and the batch
// table as load jobs of Parquet staged at bigquery.staging_url, two workers in the one group.
// Ingestion starts before apply, as in evctl dev. The emulator's query API reads every event
// of each table exactly once.
func TestBigQueryIngestionOnDevStack(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join("..", "..", "..", ".tools", "bin", bqemulator.BinName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the BigQuery emulator is not installed (%v): run scripts/install-tools.sh", err)
	}
	ws := bqRepo(t, `{project: local, dataset: events, endpoint_env: BIGQUERY_EMULATOR_HOST, staging_url: "gs://evctl-local/bq-staging"}`)
	if err := os.MkdirAll(filepath.Join(ws.Root(), ".tools", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(ws.Root(), ".tools", "bin", bqemulator.BinName)); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	st, err := devstack.Start(ctx, devstack.Options{Project: ws.Project, Env: "local", GCSAddr: "127.0.0.1:0",
		Getenv: func(k string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if st.BigQueryEmulator == nil {
		t.Fatalf("the stack started no emulator: %s", st.BigQueryNote)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", st.GCSAddr) // what `. .evctl/dev/env` does
	getenv := func(k string) string { return st.Vars[k] }
	kafka := []kgo.Opt{kgo.SeedBrokers(st.KafkaAddr),
		kgo.SASL(scram.Auth{User: devstack.AdminUser, Pass: st.AdminPassword}.AsSha256Mechanism())}

	desc, err := blob.Open(ctx, "gs://evctl-local/descriptors")
	if err != nil {
		t.Fatal(err)
	}
	defer desc.Close()
	plans, err := ingest.Build(ctx, ingest.Options{Env: "local", Project: ws.Project, Events: ws.Events, Kafka: kafka,
		Descriptors: desc, Getenv: getenv, Tune: func(c *worker.Config) {
			c.MaxBackoff, c.PollInterval = 500*time.Millisecond, 50*time.Millisecond
			c.Kafka = append(c.Kafka, kgo.MetadataMinAge(200*time.Millisecond), kgo.MetadataMaxAge(time.Second))
		}})
	if err != nil {
		t.Fatal(err)
	}
	var modes []string
	for _, p := range plans {
		modes = append(modes, p.Sink+"/"+p.Mode+" "+p.Group+" "+strings.Join(p.Events, ","))
	}
	slices.Sort(modes)
	if want := []string{"bigquery/batch evctl.local.ingest.bigquery feed/item_imported",
		"bigquery/streaming evctl.local.ingest.bigquery feed/item_clicked"}; !slices.Equal(modes, want) {
		t.Fatalf("plans = %q, want %q", modes, want)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- ingest.Run(runCtx, plans, nil) }()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("ingest: %v", err)
		}
	}()

	applyLocal(t, ws, getenv)
	const n = 40
	produce(t, ctx, desc, kafka, "local.feed.item_clicked.v1", "c", n)
	produce(t, ctx, desc, kafka, "local.feed.item_imported.v1", "b", n)
	c, err := bq.NewClient(ctx, "local", option.WithEndpoint("http://"+st.Vars["BIGQUERY_EMULATOR_HOST"]), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for table, prefix := range map[string]string{"feed__item_clicked_v1": "c", "feed__item_imported_v1": "b"} {
		var ids []string
		deadline := time.Now().Add(3 * time.Minute) // stops a hung test only
		for len(ids) < n && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			ids = eventIDs(t, ctx, c, table)
		}
		slices.Sort(ids)
		var want []string
		for i := range n {
			want = append(want, fmt.Sprintf("%s%03d", prefix, i))
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%s: %d rows (%d distinct), want the %d events once each", table, len(ids), len(slices.Compact(slices.Clone(ids))), n)
		}
	}
}

// applyLocal lints, plans and applies the repository to the stack, as `evctl apply` does.
func applyLocal(t *testing.T, ws *workspace.Workspace, getenv func(string) string) {
	t.Helper()
	ctx := t.Context()
	rep := lint.Check(ctx, ws, lint.Options{SkipGenFresh: true})
	if len(rep.Diags) > 0 {
		t.Fatalf("lint: %v", rep.Diags)
	}
	target, err := sink.NewTarget(ws.Project, "local", ws.Events, rep.Compiled)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := envconn.Open(ctx, ws.Project, "local", envconn.Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want, err := plan.Desire(conn.Registry, target)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := state.Read(ctx, conn.State, "local")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(ctx, conn.Registry, want, plan.Options{Env: "local", State: s, Target: target})
	if err != nil || len(p.Errors) > 0 {
		t.Fatalf("plan: %v %v", err, p.Errors)
	}
	if p.Summary.Skipped > 0 {
		t.Fatalf("plan skips resources (is BigQuery reachable?): %+v", p.Summary)
	}
	r, err := apply.Run(ctx, conn.Registry, conn.State, p, apply.Options{Env: "local", Who: "test"})
	if err != nil || r.Failed() {
		t.Fatalf("apply: %v %+v", err, r)
	}
}

// produce writes n events of topic's current schema (event_id <prefix>000...), as the gateway
// does: wire bytes with the evctl-event and evctl-schema headers.
func produce(t *testing.T, ctx context.Context, desc blob.Store, kafka []kgo.Opt, topic, prefix string, n int) {
	t.Helper()
	sch, err := worker.NewRegistry(desc).Current(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kafka...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	field := func(name string) protoreflect.FieldDescriptor {
		return sch.Message.Fields().ByName(protoreflect.Name(name))
	}
	var rs []*kgo.Record
	for i := range n {
		m := dynamicpb.NewMessage(sch.Message)
		m.Set(field("item_id"), protoreflect.ValueOfString(fmt.Sprint("item-", i)))
		m.Set(field("event_id"), protoreflect.ValueOfString(fmt.Sprintf("%s%03d", prefix, i)))
		ts := dynamicpb.NewMessage(field("event_time").Message())
		ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(time.Date(2026, 11, 1, 10, 0, i%60, 0, time.UTC).Unix()))
		m.Set(field("event_time"), protoreflect.ValueOfMessage(ts))
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: b, Headers: []kgo.RecordHeader{
			{Key: worker.HeaderEvent, Value: []byte(sch.Event)}, {Key: worker.HeaderSchema, Value: []byte(sch.SHA256)}}})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func eventIDs(t *testing.T, ctx context.Context, c *bq.Client, table string) []string {
	t.Helper()
	it, err := c.Query("SELECT event_id FROM `local.events." + table + "`").Read(ctx)
	if err != nil {
		return nil // the table may not exist yet
	}
	var ids []string
	for {
		var row []bq.Value
		err := it.Next(&row)
		if err == iterator.Done {
			return ids
		}
		if err != nil {
			t.Fatalf("query %s: %v", table, err)
		}
		ids = append(ids, fmt.Sprint(row[0]))
	}
}
