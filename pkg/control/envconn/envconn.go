// Package envconn connects to the systems of one environment named in evctl.yaml: the state and
// descriptor stores, the Kafka cluster (with the admin credentials from the environment variables
// the file names), and wires the sinks into a registry. A system that cannot be reached becomes an
// unavailable sink, so the others still plan and apply. Secrets are read here and never returned.
package envconn

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
	"github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Conn is an open environment.
type Conn struct {
	Env         string
	Config      config.Environment
	State       blob.Store
	Descriptors blob.Store
	Kafka       *kafka.Client // nil when unreachable
	Registry    *sink.Registry
	Credentials kafka.Credentials
	closers     []func()
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
	var sinks []sink.Sink
	c.Descriptors, err = openStore(ctx, p.Root, cfg.Descriptors.URL, "descriptors")
	if err != nil {
		sinks = append(sinks, sink.Unavailable(descriptor.Kind, err))
	} else {
		c.closers = append(c.closers, func() { c.Descriptors.Close() })
		sinks = append(sinks, descriptor.New(c.Descriptors))
	}
	credDir := cfg.CredentialsDir
	if credDir == "" {
		credDir = filepath.Join(".evctl", "credentials", env)
	}
	if !filepath.IsAbs(credDir) {
		credDir = filepath.Join(p.Root, credDir)
	}
	c.Credentials = kafka.NewFileCredentials(credDir, func(k string) (string, bool) {
		v := opts.Getenv(k)
		return v, v != ""
	})
	kc, err := connectKafka(ctx, cfg.Kafka, opts)
	if err != nil {
		for _, k := range []string{kafka.KindUser, kafka.KindTopic, kafka.KindACL} {
			sinks = append(sinks, sink.Unavailable(k, err))
		}
	} else {
		c.Kafka = kc
		c.closers = append(c.closers, kc.Close)
		teams := make([]string, 0, len(p.Teams))
		for t := range p.Teams {
			teams = append(teams, t)
		}
		sinks = append(sinks, kafka.NewUserSink(kc, c.Credentials), kafka.NewTopicSink(kc), kafka.NewACLSink(kc, teams...))
	}
	if bs := connectBigQuery(ctx, cfg.BigQuery, opts, c); bs != nil {
		sinks = append(sinks, bs)
	}
	if cfg.Delta.URL != "" {
		// The sink names tables under the URL as written (names stay the same on every
		// machine); the store behind it has a relative file:// resolved like the others.
		if ds, err := openStore(ctx, p.Root, cfg.Delta.URL, "delta"); err != nil {
			sinks = append(sinks, sink.Unavailable(delta.Kind, err))
		} else {
			c.closers = append(c.closers, func() { ds.Close() })
			sinks = append(sinks, delta.New(ds, cfg.Delta.URL, delta.Options{}))
		}
	}
	sinks = append(sinks, connectClickHouse(ctx, cfg.ClickHouse, opts)...) // clickhouse.go
	c.Registry = sink.NewRegistry(sinks...)
	return c, nil
}

func openStore(ctx context.Context, root, url, what string) (blob.Store, error) {
	if url == "" {
		return nil, fmt.Errorf("envconn: the environment has no %s.url", what)
	}
	if rest, ok := cutPrefix(url, "file://"); ok && !filepath.IsAbs(rest) {
		url = "file://" + filepath.Join(root, rest)
	}
	s, err := blob.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("envconn: %s store: %w", what, err)
	}
	return s, nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

func connectKafka(ctx context.Context, k config.KafkaEnv, opts Options) (*kafka.Client, error) {
	cfg := kafka.Config{Brokers: k.Brokers, Logger: opts.Logger}
	if k.SASL.Mechanism != "" {
		user, pw := opts.Getenv(k.SASL.UserEnv), opts.Getenv(k.SASL.PasswordEnv)
		if user == "" || pw == "" {
			return nil, fmt.Errorf("kafka: set %s and %s to the admin credentials (for the local stack: . .evctl/dev/env)", k.SASL.UserEnv, k.SASL.PasswordEnv)
		}
		cfg.SASL = kafka.SASL{Mechanism: k.SASL.Mechanism, User: user, Password: pw}
	}
	cctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	return kafka.Connect(cctx, cfg)
}

// connectBigQuery wires the bigquery_table sink; nil when the environment names no bigquery
// project and dataset (its tables then plan as skipped, not configured). When endpoint_env is
// named, requests go to the endpoint in that variable without authentication (the emulator);
// the variable unset disables the sink (its tables plan as skipped, not an error), and an
// endpoint that does not answer makes it unavailable (an error: the tables are recorded failed
// and retried), while every other sink goes on. Without endpoint_env it is
// BigQuery itself, with the Google default credentials.
func connectBigQuery(ctx context.Context, b config.BigQueryEnv, opts Options, c *Conn) sink.Sink {
	if b.Project == "" || b.Dataset == "" {
		return nil
	}
	cfg := bigquery.Config{Project: b.Project, Location: b.Location}
	if b.EndpointEnv != "" {
		cfg.Endpoint = opts.Getenv(b.EndpointEnv)
		if cfg.Endpoint == "" {
			// Not an outage: this machine has no emulator (SPEC 7: skipped with the reason).
			return sink.Disabled(bigquery.Kind, fmt.Sprintf("bigquery: %s is not set: no BigQuery emulator here (scripts/install-bigquery-emulator.sh installs one; start .tools/bin/bigquery-emulator --project=%s and export %s=127.0.0.1:9050, or let evctl dev find it)", b.EndpointEnv, b.Project, b.EndpointEnv))
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
		return sink.Unavailable(bigquery.Kind, err)
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
