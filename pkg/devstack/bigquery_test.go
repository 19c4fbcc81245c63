package devstack_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/data/ingest/bigquery/bqemulator"
	"github.com/evctl/evctl/pkg/devstack"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// TestStackStartsBigQueryEmulator: with bigquery.endpoint_env set and no emulator running, the
// stack starts the installed one (linked into the repository's .tools/bin, as
// scripts/install-tools.sh does) with the environment's dataset, writes its REST and Storage
// Write API addresses to the env file, creates the staging bucket, and the emulator's load jobs
// read gs:// files from the stack's own GCS server. Close stops it. A missing binary fails.
func TestStackStartsBigQueryEmulator(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join("..", "..", ".tools", "bin", bqemulator.BinName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the BigQuery emulator is not installed (%v): run scripts/install-tools.sh", err)
	}
	ws := devRepo(t)
	if err := os.MkdirAll(filepath.Join(ws.Root(), ".tools", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(ws.Root(), ".tools", "bin", bqemulator.BinName)); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(ws.Root(), config.FileName)
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, []byte("    bigquery: {project: local, dataset: events, endpoint_env: BIGQUERY_EMULATOR_HOST, staging_url: \"gs://bq-stage/in\"}\n")...)
	proj, diags := config.Parse(cfgPath, b)
	if len(diags) != 0 {
		t.Fatal(diags)
	}
	proj.Root = ws.Root()
	// Nothing answers at the addresses the stack looks at first.
	vars := map[string]string{"BIGQUERY_EMULATOR_HOST": freeAddr(t), "EVCTL_DEV_BIGQUERY_ADDR": freeAddr(t)}
	ctx := testCtx(t)
	st, err := devstack.Start(ctx, devstack.Options{Project: proj, Env: "local", GCSAddr: "127.0.0.1:0",
		KafkaAddr: "127.0.0.1:0", Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.BigQueryEmulator == nil {
		t.Fatalf("no emulator started: %s", st.BigQueryNote)
	}
	rest, grpc := st.Vars["BIGQUERY_EMULATOR_HOST"], st.Vars["BIGQUERY_EMULATOR_HOST_GRPC"]
	if rest != st.BigQueryEmulator.REST || grpc != st.BigQueryEmulator.GRPC || rest == grpc || st.BigQuery() != rest {
		t.Fatalf("vars %q %q, emulator %+v", rest, grpc, st.BigQueryEmulator)
	}
	env, err := os.ReadFile(st.EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export BIGQUERY_EMULATOR_HOST='" + rest + "'", "export BIGQUERY_EMULATOR_HOST_GRPC='" + grpc + "'"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("env file lacks %s:\n%s", want, env)
		}
	}

	// A load job of a file staged in the stack's GCS (the bucket of staging_url exists).
	t.Setenv("STORAGE_EMULATOR_HOST", st.GCSAddr)
	staging, err := blob.Open(ctx, "gs://bq-stage/in")
	if err != nil {
		t.Fatal(err)
	}
	defer staging.Close()
	if _, err := staging.Put(ctx, "rows.csv", []byte("id,n\na,1\nb,2\nc,3\n"), blob.PutOpts{}); err != nil {
		t.Fatalf("stage a file in the stack's staging bucket: %v", err)
	}
	c, err := bq.NewClient(ctx, "local", option.WithEndpoint("http://"+rest), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	table := c.Dataset("events").Table("t")
	schema := bq.Schema{{Name: "id", Type: bq.StringFieldType}, {Name: "n", Type: bq.IntegerFieldType}}
	if err := table.Create(ctx, &bq.TableMetadata{Schema: schema}); err != nil {
		t.Fatalf("create a table in the dataset the stack gave the emulator: %v", err)
	}
	ref := bq.NewGCSReference("gs://bq-stage/in/rows.csv")
	ref.SourceFormat, ref.SkipLeadingRows, ref.Schema = bq.CSV, 1, schema
	job, err := table.LoaderFrom(ref).Run(ctx)
	if err != nil {
		t.Fatalf("load job: %v", err)
	}
	if status, err := job.Wait(ctx); err != nil || status.Err() != nil {
		t.Fatalf("load job: %v %v", err, status.Err())
	}
	if got := queryOne(t, ctx, c, "SELECT COUNT(*) AS n, SUM(n) AS s FROM `local.events.t`"); got != "3 6" {
		t.Errorf("count, sum = %s, want 3 6", got)
	}

	st.Close()
	if bqemulator.Answers(context.Background(), rest, "local") {
		t.Error("the emulator still answers after Close")
	}
}

func queryOne(t *testing.T, ctx context.Context, c *bq.Client, sql string) string {
	t.Helper()
	it, err := c.Query(sql).Read(ctx)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var row []bq.Value
	if err := it.Next(&row); err != nil && !errors.Is(err, iterator.Done) {
		t.Fatalf("query: %v", err)
	}
	return strings.Trim(fmt.Sprint(row), "[]")
}
