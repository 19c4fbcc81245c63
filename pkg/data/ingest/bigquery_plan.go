package ingest

import (
	"context"
	"fmt"
	"os"
	"strings"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/typemap"
	ingestbq "github.com/evctl/evctl/pkg/data/ingest/bigquery"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// buildBigQuery is the bigquery sink's workers: streaming through the Storage Write API, and
// batch load jobs of Parquet staged at bigquery.staging_url (ingestion.mode: batch). An
// environment with tables of both modes gets two workers, one per mode, both members of the
// group evctl.<env>.ingest.bigquery (each subscribes to its own topics, so Kafka gives each the
// partitions of its own tables). Each table's schema is typemap.BigQuery of the event's message
// in the descriptor store's current set, the schema `evctl apply` gave the table, read at the
// worker's first assignment: ingestion may start before the first apply (evctl dev does).
func buildBigQuery(ctx context.Context, o Options, env config.Environment, reg *worker.Registry) ([]Plan, error) {
	b := env.BigQuery
	if b.Project == "" || b.Dataset == "" {
		return nil, fmt.Errorf("ingest: environment %s has no bigquery project and dataset", o.Env)
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	endpoint, endpointErr := "", error(nil)
	if b.EndpointEnv != "" && getenv(b.EndpointEnv) != "" {
		if endpoint = getenv(b.EndpointEnv + "_GRPC"); endpoint == "" {
			endpointErr = fmt.Errorf("ingest: %s points at a BigQuery emulator but %s_GRPC (its Storage Write API host:port, the emulator's --grpc-port) is not set", b.EndpointEnv, b.EndpointEnv)
		}
	}
	group := worker.GroupID(o.Env, "ingest", SinkBigQuery)
	evs := hosted(env, o.Events, func(ev *contract.Event) bool { return ev.Sinks.BigQuery != nil })
	if len(evs) == 0 {
		return nil, fmt.Errorf("ingest: no event hosted by environment %s has a BigQuery table", o.Env)
	}
	var tables, batchTables []ingestbq.TableConfig
	for _, ev := range evs {
		tc := ingestbq.TableConfig{Event: ev.ID(), Topic: o.Project.TopicName(o.Env, ev), Project: b.Project, Dataset: b.Dataset,
			Table: o.Project.TableName(o.Env, ev)}
		var batch bool
		var cadence = tc.Flush
		if err := settings(ev, &batch, &cadence, &tc.Flush, &tc.MaxRows); err != nil {
			return nil, err
		}
		if batch {
			tc.Flush = cadence // a batch table loads once per cadence
			batchTables = append(batchTables, tc)
		} else {
			tables = append(tables, tc)
		}
	}
	var plans []Plan
	closeAll := func() {
		for _, p := range plans {
			_ = p.Close()
		}
	}
	if len(batchTables) > 0 {
		c, staging, err := openBigQueryBatch(ctx, o, b, getenv)
		if err != nil {
			return nil, err
		}
		h := &lazyHandler{build: func(ctx context.Context) (worker.Handler, error) {
			tcs, err := withSchemas(ctx, reg, batchTables)
			if err != nil {
				return nil, err
			}
			return ingestbq.NewBatchHandler(ingestbq.BatchConfig{Group: group, Tables: tcs, Client: c, Staging: staging,
				StagingURL: b.StagingURL, Logger: o.Logger})
		}}
		p, err := bigQueryPlan(o, reg, group, ModeBatch, batchTables, h, func() error { _ = staging.Close(); return c.Close() })
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	if len(tables) > 0 {
		if endpointErr != nil {
			closeAll()
			return nil, endpointErr
		}
		// The client keeps the context it is made with for its connections: not the run's,
		// which ends before the final flush at shutdown. Close releases it.
		wc, err := ingestbq.NewWriter(context.WithoutCancel(ctx), b.Project, endpoint)
		if err != nil {
			closeAll()
			return nil, err
		}
		h := &lazyHandler{build: func(ctx context.Context) (worker.Handler, error) {
			tcs, err := withSchemas(ctx, reg, tables)
			if err != nil {
				return nil, err
			}
			return ingestbq.NewHandler(ingestbq.Config{Tables: tcs, Writer: wc, Logger: o.Logger})
		}}
		p, err := bigQueryPlan(o, reg, group, ModeStreaming, tables, h, func() error { _ = h.Close(); return wc.Close() })
		if err != nil {
			closeAll()
			return nil, err
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// withSchemas fills each table's schema from the descriptor store's current set.
func withSchemas(ctx context.Context, reg *worker.Registry, tables []ingestbq.TableConfig) ([]ingestbq.TableConfig, error) {
	out := make([]ingestbq.TableConfig, len(tables))
	for i, tc := range tables {
		cur, err := reg.Current(ctx, tc.Topic)
		if err != nil {
			return nil, fmt.Errorf("ingest: %s: %w (run evctl apply first)", tc.Event, err)
		}
		if tc.Schema, err = typemap.BigQuery(cur.Message); err != nil {
			return nil, fmt.Errorf("ingest: %s: %w", tc.Event, err)
		}
		out[i] = tc
	}
	return out, nil
}

func bigQueryPlan(o Options, reg *worker.Registry, group, mode string, tables []ingestbq.TableConfig, h worker.Handler, closeFn func() error) (Plan, error) {
	p := Plan{Sink: SinkBigQuery, Mode: mode, Group: group, Close: closeFn}
	var topics []string
	for _, tc := range tables {
		topics = append(topics, tc.Topic)
		p.Events = append(p.Events, tc.Event)
	}
	cfg := worker.Config{Name: "ingest/" + SinkBigQuery + "/" + mode, Group: group, Topics: topics, Kafka: o.Kafka, Registry: reg,
		Handler: h, Logger: o.Logger, Metrics: prometheus.NewRegistry()}
	if o.Tune != nil {
		o.Tune(&cfg)
	}
	var err error
	if p.Worker, err = worker.New(cfg); err != nil {
		_ = closeFn()
		return Plan{}, err
	}
	return p, nil
}

// openBigQueryBatch opens what batch (load job) ingestion needs: a BigQuery REST client (the
// emulator's when endpoint_env is set) and the staging store at bigquery.staging_url.
func openBigQueryBatch(ctx context.Context, o Options, b config.BigQueryEnv, getenv func(string) string) (*bq.Client, blob.Store, error) {
	if !strings.HasPrefix(b.StagingURL, "gs://") {
		return nil, nil, fmt.Errorf("ingest: environment %s: batch BigQuery ingestion stages files for load jobs in GCS: set bigquery.staging_url (gs://bucket/prefix)", o.Env)
	}
	var opts []option.ClientOption
	if b.EndpointEnv != "" && getenv(b.EndpointEnv) != "" {
		rest := getenv(b.EndpointEnv)
		if !strings.Contains(rest, "://") {
			rest = "http://" + rest
		}
		opts = append(opts, option.WithEndpoint(rest), option.WithoutAuthentication())
	}
	c, err := bq.NewClient(context.WithoutCancel(ctx), b.Project, opts...) // as NewWriter: outlives the run, closed by Close
	if err != nil {
		return nil, nil, fmt.Errorf("ingest: bigquery client: %w", err)
	}
	staging, err := blob.Open(ctx, b.StagingURL)
	if err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("ingest: bigquery staging: %w", err)
	}
	return c, staging, nil
}
