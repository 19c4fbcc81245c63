package ingest

import (
	"context"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/typemap"
	ingestbq "github.com/evctl/evctl/pkg/data/ingest/bigquery"
	"github.com/evctl/evctl/pkg/data/worker"
)

// buildBigQuery is the bigquery sink's worker: streaming through the Storage Write API. Each
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
	endpoint := ""
	if b.EndpointEnv != "" && getenv(b.EndpointEnv) != "" {
		if endpoint = getenv(b.EndpointEnv + "_GRPC"); endpoint == "" {
			return Plan{}, fmt.Errorf("ingest: %s points at a BigQuery emulator but %s_GRPC (its Storage Write API host:port, the emulator's --grpc-port) is not set", b.EndpointEnv, b.EndpointEnv)
		}
	}
	group := worker.GroupID(o.Env, "ingest", SinkBigQuery)
	evs := hosted(env, o.Events, func(ev *contract.Event) bool { return ev.Sinks.BigQuery != nil })
	if len(evs) == 0 {
		return Plan{}, fmt.Errorf("ingest: no event hosted by environment %s has a BigQuery table", o.Env)
	}
	p := Plan{Sink: SinkBigQuery, Group: group}
	var tables []ingestbq.TableConfig
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
			return Plan{}, fmt.Errorf("ingest: %s: ingestion.mode batch is not implemented for bigquery yet (streaming only)", ev.ID())
		}
		tables = append(tables, tc)
		topics = append(topics, tc.Topic)
		p.Events = append(p.Events, ev.ID())
	}
	wc, err := ingestbq.NewWriter(ctx, b.Project, endpoint)
	if err != nil {
		return Plan{}, err
	}
	h, err := ingestbq.NewHandler(ingestbq.Config{Tables: tables, Writer: wc, Logger: o.Logger})
	if err != nil {
		_ = wc.Close()
		return Plan{}, err
	}
	p.Close = func() error { _ = h.Close(); return wc.Close() }
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
