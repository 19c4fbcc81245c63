package ingest

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	chingest "github.com/evctl/evctl/pkg/data/ingest/clickhouse"
	"github.com/evctl/evctl/pkg/data/worker"
)

// SinkClickHouse is the environment's ClickHouse server (clickhouse.url).
const SinkClickHouse = "clickhouse"

// buildClickHouse builds the worker that writes every hosted event with sinks.clickhouse into
// its base table (the views follow through their materialized views). The handler takes one
// flush and max_rows for all its tables: the smallest any event asks for, so no event waits
// longer than its contract says.
func buildClickHouse(ctx context.Context, o Options, env config.Environment, reg *worker.Registry) (Plan, error) {
	ch := env.ClickHouse
	if ch.URL == "" {
		return Plan{}, fmt.Errorf("ingest: environment %s has no clickhouse.url", o.Env)
	}
	evs := hosted(env, o.Events, func(ev *contract.Event) bool { return ev.Sinks.ClickHouse != nil })
	if len(evs) == 0 {
		return Plan{}, fmt.Errorf("ingest: no event hosted by environment %s has a ClickHouse table", o.Env)
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	user, password := "", ""
	if ch.UserEnv != "" {
		user = getenv(ch.UserEnv)
	}
	if ch.PasswordEnv != "" {
		password = getenv(ch.PasswordEnv)
	}
	// The credentials go only into HTTP basic auth; errors below name the URL, never them.
	client, err := chhttp.New(ch.URL, user, password)
	if err != nil {
		return Plan{}, fmt.Errorf("ingest: clickhouse: %w", err)
	}
	version, err := client.Version(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("ingest: clickhouse %s: %w", ch.URL, err)
	}
	db := ch.DatabaseName()
	w, err := chingest.New(ctx, client, db)
	if err != nil {
		return Plan{}, fmt.Errorf("ingest: clickhouse %s: %w", ch.URL, err)
	}
	group := worker.GroupID(o.Env, "ingest", SinkClickHouse)
	p := Plan{Sink: SinkClickHouse, Group: group}
	hc := chingest.HandlerConfig{Writer: w, Client: client, Database: db, Features: typemap.CHFeaturesFor(version),
		Tables: map[string]string{}}
	var topics []string
	for _, ev := range evs {
		var batch bool
		var cadence, flush time.Duration
		var maxRows int
		if err := settings(ev, &batch, &cadence, &flush, &maxRows); err != nil {
			return Plan{}, err
		}
		if flush > 0 && (hc.Flush == 0 || flush < hc.Flush) {
			hc.Flush = flush
		}
		if maxRows > 0 && (hc.MaxRows == 0 || maxRows < hc.MaxRows) {
			hc.MaxRows = maxRows
		}
		topic := o.Project.TopicName(o.Env, ev)
		hc.Tables[topic] = o.Project.ClickHouseTableName(o.Env, ev)
		topics = append(topics, topic)
		p.Events = append(p.Events, ev.ID())
	}
	h, err := chingest.NewHandler(hc)
	if err != nil {
		return Plan{}, err
	}
	cfg := worker.Config{Name: "ingest/" + SinkClickHouse, Group: group, Topics: topics, Kafka: o.Kafka, Registry: reg,
		Handler: h, Logger: o.Logger, Metrics: prometheus.NewRegistry()}
	if o.Tune != nil {
		o.Tune(&cfg)
	}
	if p.Worker, err = worker.New(cfg); err != nil {
		return Plan{}, err
	}
	return p, nil
}
