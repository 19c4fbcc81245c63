// Package envconn connects to the systems of one environment named in evctl.yaml: the state and
// descriptor stores, the Kafka cluster (with the admin credentials from the environment variables
// the file names), and wires the sinks into a registry. A system that cannot be reached becomes an
// unavailable sink, so the others still plan and apply. Secrets are read here and never returned.
package envconn

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse"
	"github.com/evctl/evctl/pkg/control/sink/consumers"
	"github.com/evctl/evctl/pkg/control/sink/counters"
	"github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/dlq"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Conn is an open environment.
type Conn struct {
	Env         string
	Config      config.Environment
	State       blob.Store
	Descriptors blob.Store    // nil when it could not be opened: DescriptorsErr says why
	Kafka       *kafka.Client // nil when unreachable: KafkaErr says why
	Registry    *sink.Registry
	Credentials kafka.Credentials
	// DescriptorsErr and KafkaErr are why Descriptors or Kafka is nil.
	DescriptorsErr, KafkaErr error
	closers                  []func()
	clickhouse               []sink.Sink // both ClickHouse kinds over one connection (clickhouse.go)
}

// Close releases every connection.
func (c *Conn) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

// Options tune Open.
type Options struct {
	Getenv func(string) string
	Logger *slog.Logger
	// ConnectTimeout bounds reaching each system (default 10s).
	ConnectTimeout time.Duration
}

// Open connects to env. Only a missing state store is an error: without it nothing can be
// recorded. Relative file:// URLs and credentials_dir are relative to the repository root.
func Open(ctx context.Context, p *config.Project, env string, opts Options) (*Conn, error) {
	cfg, err := p.Env(env)
	if err != nil {
		return nil, err
	}
	if opts.Getenv == nil {
		return nil, fmt.Errorf("envconn: no Getenv")
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	c := &Conn{Env: env, Config: cfg}
	c.State, err = openStore(ctx, p.Root, cfg.State.URL, "state")
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, func() { c.State.Close() })
	c.Descriptors, c.DescriptorsErr = openStore(ctx, p.Root, cfg.Descriptors.URL, "descriptors")
	if c.Descriptors != nil {
		c.closers = append(c.closers, func() { c.Descriptors.Close() })
	}
	if c.Credentials, err = openCredentials(ctx, p.Root, env, cfg, opts.Getenv); err != nil {
		c.Close()
		return nil, err
	}
	c.Kafka, c.KafkaErr = connectKafka(ctx, p.Root, cfg.Kafka, opts)
	if c.Kafka != nil {
		c.closers = append(c.closers, c.Kafka.Close)
	}
	var sinks []sink.Sink
	for _, w := range wiring() {
		sinks = append(sinks, w.connect(ctx, c, p, opts))
	}
	c.Registry = sink.NewRegistry(sinks...)
	return c, nil
}

// kind is one resource kind: its definition (what it wants, what it needs first: no
// connection) and how its sink is connected over an open environment.
type kind struct {
	def     sink.Def
	connect func(ctx context.Context, c *Conn, p *config.Project, opts Options) sink.Sink
}

// wiring is every resource kind evctl provisions. Adding a kind is one line here and nothing
// else outside its own package; the order only breaks ties between kinds that do not depend on
// each other (see sink.NewRegistry). A kind whose system is unreachable or not configured is
// wired as sink.Unavailable or sink.Disabled over its Def, so its resources still plan. (A
// function, not a package variable: no package-level mutable state.)
func wiring() []kind {
	return []kind{
		{descriptor.Def{}, func(_ context.Context, c *Conn, _ *config.Project, _ Options) sink.Sink {
			return storeSink(descriptor.Def{}, c.Descriptors, c.DescriptorsErr, func(s blob.Store) sink.Sink { return descriptor.New(s) })
		}},
		{kafka.UserDef{}, func(_ context.Context, c *Conn, _ *config.Project, _ Options) sink.Sink {
			return c.kafkaSink(kafka.UserDef{}, func(kc *kafka.Client) sink.Sink { return kafka.NewUserSink(kc, c.Credentials) })
		}},
		{kafka.TopicDef{}, func(_ context.Context, c *Conn, _ *config.Project, _ Options) sink.Sink {
			return c.kafkaSink(kafka.TopicDef{}, func(kc *kafka.Client) sink.Sink { return kafka.NewTopicSink(kc) })
		}},
		{kafka.ACLDef{}, func(_ context.Context, c *Conn, p *config.Project, _ Options) sink.Sink {
			return c.kafkaSink(kafka.ACLDef{}, func(kc *kafka.Client) sink.Sink { return kafka.NewACLSink(kc, teamNames(p)...) })
		}},
		{dlq.Def{}, func(_ context.Context, c *Conn, p *config.Project, _ Options) sink.Sink {
			return c.kafkaSink(dlq.Def{}, func(kc *kafka.Client) sink.Sink { return dlq.New(kc, teamNames(p)...) })
		}},
		{counters.Def{}, func(_ context.Context, c *Conn, p *config.Project, _ Options) sink.Sink {
			return c.kafkaSink(counters.Def{}, func(kc *kafka.Client) sink.Sink { return counters.New(kc, c.Descriptors, teamNames(p)...) })
		}},
		{consumers.Def{}, func(_ context.Context, c *Conn, p *config.Project, _ Options) sink.Sink {
			return c.kafkaSink(consumers.Def{}, func(kc *kafka.Client) sink.Sink { return consumers.New(kc, c.Descriptors, c.Env, teamNames(p)...) })
		}},
		{bigquery.Def{}, func(ctx context.Context, c *Conn, _ *config.Project, opts Options) sink.Sink {
			return connectBigQuery(ctx, c.Config.BigQuery, opts, c)
		}},
		{delta.Def{}, func(ctx context.Context, c *Conn, p *config.Project, _ Options) sink.Sink {
			return c.connectDelta(ctx, p.Root, c.Config.Delta.URL)
		}},
		{clickhouse.TableDef{}, func(ctx context.Context, c *Conn, _ *config.Project, opts Options) sink.Sink {
			return c.clickhouseSinks(ctx, opts)[0]
		}},
		{clickhouse.ViewDef{}, func(ctx context.Context, c *Conn, _ *config.Project, opts Options) sink.Sink {
			return c.clickhouseSinks(ctx, opts)[1]
		}},
	}
}

// Defs returns every resource kind's definition, in the wiring's order: what describe and
// the benchmarks use to name or want resources without connecting.
func Defs() []sink.Def {
	var out []sink.Def
	for _, w := range wiring() {
		out = append(out, w.def)
	}
	return out
}

// teamNames are evctl.yaml's teams, sorted.
func teamNames(p *config.Project) []string {
	teams := make([]string, 0, len(p.Teams))
	for t := range p.Teams {
		teams = append(teams, t)
	}
	sort.Strings(teams)
	return teams
}

// kafkaSink is def's sink over the cluster, or unavailable with the connection's error.
func (c *Conn) kafkaSink(def sink.Def, connected func(*kafka.Client) sink.Sink) sink.Sink {
	if c.Kafka == nil {
		return sink.Unavailable(def, c.KafkaErr)
	}
	return connected(c.Kafka)
}

// storeSink is def's sink over st, or unavailable with err when st could not be opened.
func storeSink(def sink.Def, st blob.Store, err error, connected func(blob.Store) sink.Sink) sink.Sink {
	if st == nil {
		return sink.Unavailable(def, err)
	}
	return connected(st)
}

// notConfigured is the sink of a kind the environment does not configure: its resources plan
// as skipped with that reason.
func notConfigured(def sink.Def) sink.Sink {
	return sink.Disabled(def, def.Kind()+" is not configured for this environment")
}

// connectDelta wires the delta_table sink over delta.url. The sink names tables under the URL
// as written (names stay the same on every machine); the store behind it has a relative
// file:// resolved like the others.
func (c *Conn) connectDelta(ctx context.Context, root, url string) sink.Sink {
	if url == "" {
		return notConfigured(delta.Def{})
	}
	ds, err := openStore(ctx, root, url, "delta")
	if err != nil {
		return sink.Unavailable(delta.Def{}, err)
	}
	c.closers = append(c.closers, func() { ds.Close() })
	return delta.New(ds, url, delta.Options{})
}

func openStore(ctx context.Context, root, url, what string) (blob.Store, error) {
	if url == "" {
		return nil, fmt.Errorf("envconn: the environment has no %s.url", what)
	}
	s, err := blob.OpenIn(ctx, root, url)
	if err != nil {
		return nil, fmt.Errorf("envconn: %s store: %w", what, err)
	}
	return s, nil
}

func connectKafka(ctx context.Context, root string, k config.KafkaEnv, opts Options) (*kafka.Client, error) {
	kopts, err := KafkaOpts(root, k, opts.Getenv)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	return kafka.Connect(cctx, kafka.Config{Brokers: k.Brokers, Logger: opts.Logger, Opts: kopts})
}

// connectBigQuery wires the bigquery_table sink; not configured when the environment names no bigquery
// project and dataset (its tables then plan as skipped, not configured). When endpoint_env is
// named, requests go to the endpoint in that variable without authentication (the emulator);
// the variable unset disables the sink (its tables plan as skipped, not an error), and an
// endpoint that does not answer makes it unavailable (an error: the tables are recorded failed
// and retried), while every other sink goes on. Without endpoint_env it is
// BigQuery itself, with the Google default credentials.
func connectBigQuery(ctx context.Context, b config.BigQueryEnv, opts Options, c *Conn) sink.Sink {
	if b.Project == "" || b.Dataset == "" {
		return notConfigured(bigquery.Def{})
	}
	cfg := bigquery.Config{Project: b.Project, Location: b.Location}
	if b.EndpointEnv != "" {
		cfg.Endpoint = opts.Getenv(b.EndpointEnv)
		if cfg.Endpoint == "" {
			// Not an outage: this machine has no emulator (SPEC 7: skipped with the reason).
			return sink.Disabled(bigquery.Def{}, fmt.Sprintf("bigquery: %s is not set: no BigQuery emulator here (scripts/install-bigquery-emulator.sh installs one; start .tools/bin/bigquery-emulator --project=%s and export %s=127.0.0.1:9050, or let evctl dev find it)", b.EndpointEnv, b.Project, b.EndpointEnv))
		}
	}
	cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	bc, err := bigquery.Connect(cctx, cfg)
	if err == nil {
		err = bc.Ping(cctx)
		if err != nil {
			bc.Close()
		}
	}
	if err != nil {
		return sink.Unavailable(bigquery.Def{}, err)
	}
	c.closers = append(c.closers, func() { bc.Close() })
	return bigquery.NewTableSink(bc)
}

// OpenState opens only the environment's state store (status, unlock, repair need nothing else).
func OpenState(ctx context.Context, p *config.Project, env string) (blob.Store, error) {
	cfg, err := p.Env(env)
	if err != nil {
		return nil, err
	}
	return openStore(ctx, p.Root, cfg.State.URL, "state")
}
