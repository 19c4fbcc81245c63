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

// buildBigQuery is the bigquery sink's worker: streaming through the Storage Write API, or batch
// load jobs of Parquet staged at bigquery.staging_url (ingestion.mode: batch). Each
// table's schema is typemap.BigQuery of the event's message in the descriptor store's current
// set, the schema `evctl apply` gave the table.
func buildBigQuery(ctx context.Context, o Options, env config.Environment, reg *worker.Registry) (Plan, error) {
	b := env.BigQuery
	if b.Project == "" || b.Dataset == "" {
		return Plan{}, fmt.Errorf("ingest: environment %s has no bigquery project and dataset", o.Env)
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
		return Plan{}, fmt.Errorf("ingest: no event hosted by environment %s has a BigQuery table", o.Env)
	}
	p := Plan{Sink: SinkBigQuery, Group: group}
	var tables, batchTables []ingestbq.TableConfig
	var topics []string
	for _, ev := range evs {
		topic := o.Project.TopicName(o.Env, ev)
		cur, err := reg.Current(ctx, topic)
		if err != nil {
			return Plan{}, fmt.Errorf("ingest: %s: %w (run evctl apply first)", ev.ID(), err)
		}
		schema, err := typemap.BigQuery(cur.Message)
		if err != nil {
			return Plan{}, fmt.Errorf("ingest: %s: %w", ev.ID(), err)
		}
		tc := ingestbq.TableConfig{Event: ev.ID(), Topic: topic, Project: b.Project, Dataset: b.Dataset,
			Table: o.Project.TableName(o.Env, ev), Schema: schema}
		var batch bool
		var cadence = tc.Flush
		if err := settings(ev, &batch, &cadence, &tc.Flush, &tc.MaxRows); err != nil {
			return Plan{}, err
		}
		if batch {
			tc.Flush = cadence // a batch table loads once per cadence
			batchTables = append(batchTables, tc)
		} else {
			tables = append(tables, tc)
		}
		topics = append(topics, tc.Topic)
		p.Events = append(p.Events, ev.ID())
	}
	if len(batchTables) > 0 && len(tables) > 0 {
		// One worker, one handler: streaming and batch tables need a run each (--event).
		return Plan{}, fmt.Errorf("ingest: environment %s mixes streaming and batch BigQuery tables; run evctl ingest --event for each mode", o.Env)
	}
	var h worker.Handler
	if len(batchTables) > 0 {
		bh, closeFn, err := buildBigQueryBatch(ctx, o, b, getenv, group, batchTables)
		if err != nil {
			return Plan{}, err
		}
		h, p.Close = bh, closeFn
	} else {
		if endpointErr != nil {
			return Plan{}, endpointErr
		}
		wc, err := ingestbq.NewWriter(ctx, b.Project, endpoint)
		if err != nil {
			return Plan{}, err
		}
		sh, err := ingestbq.NewHandler(ingestbq.Config{Tables: tables, Writer: wc, Logger: o.Logger})
		if err != nil {
			_ = wc.Close()
			return Plan{}, err
		}
		h, p.Close = sh, func() error { _ = sh.Close(); return wc.Close() }
	}
	var err error
	cfg := worker.Config{Name: "ingest/" + SinkBigQuery, Group: group, Topics: topics, Kafka: o.Kafka, Registry: reg,
		Handler: h, Logger: o.Logger, Metrics: prometheus.NewRegistry()}
	if o.Tune != nil {
		o.Tune(&cfg)
	}
	if p.Worker, err = worker.New(cfg); err != nil {
		_ = p.Close()
		return Plan{}, err
	}
	return p, nil
}

// buildBigQueryBatch is the batch (load job) handler: a BigQuery REST client (the emulator's
// when endpoint_env is set) and the staging store at bigquery.staging_url.
func buildBigQueryBatch(ctx context.Context, o Options, b config.BigQueryEnv, getenv func(string) string, group string, tables []ingestbq.TableConfig) (worker.Handler, func() error, error) {
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
	c, err := bq.NewClient(ctx, b.Project, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("ingest: bigquery client: %w", err)
	}
	staging, err := blob.Open(ctx, b.StagingURL)
	if err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("ingest: bigquery staging: %w", err)
	}
	h, err := ingestbq.NewBatchHandler(ingestbq.BatchConfig{Group: group, Tables: tables, Client: c, Staging: staging,
		StagingURL: b.StagingURL, Logger: o.Logger})
	if err != nil {
		_ = staging.Close()
		_ = c.Close()
		return nil, nil, err
	}
	return h, func() error { _ = staging.Close(); return c.Close() }, nil
}
