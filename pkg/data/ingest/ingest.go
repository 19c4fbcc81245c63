package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	sinkdelta "github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/data/ingest/delta"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Sinks evctl ingest writes to.
const (
	SinkDelta    = "delta"
	SinkBigQuery = "bigquery"
)

// Options say what to ingest where.
type Options struct {
	Env     string
	Project *config.Project
	// Events are the contracts to ingest (already narrowed by --event); those whose stage the
	// environment does not host, or that lack the sink, are left out.
	Events []*contract.Event
	Sinks  []string // default: every sink the environment configures
	Kafka  []kgo.Opt
	// Descriptors is the environment's descriptor store.
	Descriptors blob.Store
	// Lake is the environment's delta.url, opened (nil: no Delta).
	Lake   blob.Store
	Logger *slog.Logger
	// Listener serves /metrics, /healthz and /readyz of every worker (one registry each, paths
	// /<sink>/metrics as well as /metrics for the first).
	Listener net.Listener
	// Tune overrides worker settings (tests, evctl dev).
	Tune func(*worker.Config)
	// Getenv reads the variables the environment names: clickhouse.user_env and password_env,
	// bigquery.endpoint_env (REST, an emulator) and with it <endpoint_env>_GRPC (the emulator's
	// Storage Write API host:port). Nil: os.Getenv.
	Getenv func(string) string
}

// Plan is one sink's worker, ready to run.
type Plan struct {
	Sink string
	// Mode is streaming or batch for a sink that runs a worker per mode (BigQuery), else "".
	Mode   string
	Group  string
	Events []string
	Worker *worker.Worker
	// Close releases the sink's clients after the worker stopped (nil: nothing to release).
	Close func() error
}

// Build resolves every sink's events, topics and tables and builds its worker.
func Build(ctx context.Context, o Options) ([]Plan, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	env, err := o.Project.Env(o.Env)
	if err != nil {
		return nil, err
	}
	sinks := o.Sinks
	if len(sinks) == 0 && env.Delta.URL != "" {
		sinks = append(sinks, SinkDelta)
	}
	if len(o.Sinks) == 0 && bigQueryReachable(env, o.Getenv) &&
		len(hosted(env, o.Events, func(ev *contract.Event) bool { return ev.Sinks.BigQuery != nil })) > 0 {
		sinks = append(sinks, SinkBigQuery)
	}
	if len(o.Sinks) == 0 && env.ClickHouse.URL != "" &&
		len(hosted(env, o.Events, func(ev *contract.Event) bool { return ev.Sinks.ClickHouse != nil })) > 0 {
		sinks = append(sinks, SinkClickHouse)
	}
	if len(sinks) == 0 {
		return nil, fmt.Errorf("ingest: environment %s has no delta.url, clickhouse.url nor reachable bigquery dataset", o.Env)
	}
	reg := worker.NewRegistry(o.Descriptors)
	var plans []Plan
	for _, s := range sinks {
		var p Plan
		switch s {
		case SinkBigQuery:
			ps, err := buildBigQuery(ctx, o, env, reg)
			if err != nil {
				return nil, err
			}
			plans = append(plans, ps...)
			continue
		case SinkDelta:
			p, err = buildDelta(ctx, o, env, reg)
		case SinkClickHouse:
			p, err = buildClickHouse(ctx, o, env, reg)
		default:
			return nil, fmt.Errorf("ingest: unknown sink %q (want delta, clickhouse or bigquery)", s)
		}
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// bigQueryReachable reports whether the environment names a BigQuery dataset that ingestion can
// reach by default: real BigQuery (no endpoint_env), or an emulator whose address the
// endpoint_env variable holds. A local environment whose emulator is not running is left out of
// the default sinks, as plan and apply leave its tables out; --sink bigquery still asks for it.
func bigQueryReachable(env config.Environment, getenv func(string) string) bool {
	b := env.BigQuery
	if b.Project == "" || b.Dataset == "" {
		return false
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	return b.EndpointEnv == "" || getenv(b.EndpointEnv) != ""
}

func hosted(env config.Environment, evs []*contract.Event, has func(*contract.Event) bool) []*contract.Event {
	var out []*contract.Event
	for _, ev := range evs {
		if env.Hosts(ev.Stage) && has(ev) {
			out = append(out, ev)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

func buildDelta(ctx context.Context, o Options, env config.Environment, reg *worker.Registry) (Plan, error) {
	if o.Lake == nil {
		return Plan{}, fmt.Errorf("ingest: environment %s has no delta.url", o.Env)
	}
	group := worker.GroupID(o.Env, "ingest", SinkDelta)
	evs := hosted(env, o.Events, func(ev *contract.Event) bool { return ev.Sinks.Delta != nil })
	if len(evs) == 0 {
		return Plan{}, fmt.Errorf("ingest: no event hosted by environment %s has a Delta table", o.Env)
	}
	p := Plan{Sink: SinkDelta, Group: group}
	var tables []delta.TableConfig
	var topics []string
	for _, ev := range evs {
		loc, err := sinkdelta.Locate(ctx, o.Lake, o.Project.DeltaTableName(o.Env, ev))
		if err != nil {
			return Plan{}, fmt.Errorf("ingest: %s: %w", ev.ID(), err)
		}
		tc := delta.TableConfig{Event: ev.ID(), Topic: o.Project.TopicName(o.Env, ev), Store: o.Lake, Location: loc,
			PartitionBy: ev.Sinks.Delta.PartitionBy}
		if err := settings(ev, &tc.Batch, &tc.Cadence, &tc.Flush, &tc.MaxRows); err != nil {
			return Plan{}, err
		}
		tables = append(tables, tc)
		topics = append(topics, tc.Topic)
		p.Events = append(p.Events, ev.ID())
	}
	h, err := delta.NewHandler(delta.Config{Group: group, Tables: tables, Logger: o.Logger})
	if err != nil {
		return Plan{}, err
	}
	// PollBuffered: the next fetch is on its way while this one is shredded (with bounded polls
	// the worker waited out each fetch's round trip; docs/benchmarks.md, bench:ingest).
	cfg := worker.Config{Name: "ingest/" + SinkDelta, Group: group, Topics: topics, Kafka: o.Kafka, Registry: reg,
		Handler: h, Logger: o.Logger, Metrics: prometheus.NewRegistry(), MaxPollRecords: worker.PollBuffered}
	if o.Tune != nil {
		o.Tune(&cfg)
	}
	if p.Worker, err = worker.New(cfg); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// settings reads an event's ingestion block.
func settings(ev *contract.Event, batch *bool, cadence, flush *time.Duration, maxRows *int) error {
	in := ev.Ingestion
	parse := func(field, s string, d *time.Duration) error {
		if s == "" {
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil || v <= 0 {
			return fmt.Errorf("ingest: %s: ingestion.%s %q is not a positive duration", ev.ID(), field, s)
		}
		*d = v
		return nil
	}
	switch in.Mode {
	case "", "streaming":
	case "batch":
		*batch = true
	default:
		return fmt.Errorf("ingest: %s: ingestion.mode %q (want streaming or batch)", ev.ID(), in.Mode)
	}
	if err := parse("cadence", in.Cadence, cadence); err != nil {
		return err
	}
	if err := parse("flush", in.Flush, flush); err != nil {
		return err
	}
	*maxRows = in.MaxRows
	return nil
}

// Run runs every plan's worker until ctx ends, serving their /metrics, /healthz and /readyz on
// o.Listener (the first plan's at /, each at /<sink>/ too, BigQuery's batch worker at /bigquery-batch/).
func Run(ctx context.Context, plans []Plan, ln net.Listener) error {
	g, ctx := errgroup.WithContext(ctx)
	if ln != nil && len(plans) > 0 {
		g.Go(func() error { return serve(ctx, plans, ln) })
	}
	for _, p := range plans {
		g.Go(func() error {
			err := p.Worker.Run(ctx)
			if p.Close != nil {
				_ = p.Close()
			}
			return err
		})
	}
	return g.Wait()
}

// Sinks lists the sinks of plans, for messages.
func Sinks(plans []Plan) []string {
	var out []string
	for _, p := range plans {
		if !slices.Contains(out, p.Sink) {
			out = append(out, p.Sink)
		}
	}
	return out
}
