package cli

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/data/convert"
	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/gateway"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// devEnv is the environment `evctl dev` runs; only there may the gateway run without tokens.
const devEnv = "local"

type gatewayOptions struct {
	Env    string
	Listen string
	// Preload builds every event's descriptors at start (gateway.Config.Preload).
	Preload bool
	// RegistryBudgetMB bounds the memory of the events loaded at once
	// (gateway.Config.RegistryBudget, in MiB; 0: the default, negative: unbounded).
	RegistryBudgetMB int64
	// MemoryLimitMB is the Go runtime's soft memory limit for the standalone gateway (0: none).
	MemoryLimitMB int64
	// PprofAddr is where the Go runtime's profiles are served (Gateway.ServeDebug; "": nowhere).
	PprofAddr string
	// counters is a counter store evctl dev shares with its count worker (nil: the gateway
	// opens the environment's own).
	counters counterstore.Store
}

func newGatewayCmd(app *App) *cobra.Command {
	o := &gatewayOptions{}
	cmd := &cobra.Command{
		Use: "gateway --env NAME [--listen ADDR]",
		Example: `  evctl gateway --env local
  evctl gateway --env prod --listen 0.0.0.0:8080
  # send an event to it
  curl -X POST localhost:8080/v1/events/feed/video_played -H 'Content-Type: application/json' -d '{"video_id": "v1", "watch_ms": 5300, "event_time": "2026-11-01T10:00:00Z"}'`,
		Short: "Run the ingestion gateway: JSON over HTTP and gRPC/Connect events to Protobuf on Kafka",
		Long: `Serves SPEC section 6 on one port: POST /v1/events/{domain}/{event}, POST /v1/batch (NDJSON),
evctl.ingest.v1.IngestService over gRPC, gRPC-Web and Connect, /metrics, /healthz and /readyz.
Descriptors are polled from the environment's descriptor store (gateway.poll, default 10s).

Producer tokens come from the variable gateway.tokens_env names ("team=token,..."). Which teams
may publish an event (access.producers) and its record key (sinks.kafka.key) are read from this
contracts repository, so run the gateway from a checkout of it, as apply is. Without tokens the
gateway refuses to start, except in the local environment of evctl dev.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.runGateway(cmd.Context(), o)
		},
	}
	envFlag(cmd, &o.Env, "environment whose descriptors, Kafka and gateway settings to use")
	cmd.Flags().StringVar(&o.Listen, "listen", "", "address to listen on (default: the environment's gateway.listen)")
	cmd.Flags().BoolVar(&o.Preload, "preload", false, "load every event's descriptors before ready, instead of on each event's first request")
	cmd.Flags().Int64Var(&o.RegistryBudgetMB, "registry-budget-mb", gateway.DefaultRegistryBudget>>20,
		"estimated memory (MiB) the events in use may hold; past it the least recently used are evicted and loaded again on their next request (-1: unbounded)")
	memoryLimitFlag(cmd, &o.MemoryLimitMB)
	cmd.Flags().StringVar(&o.PprofAddr, "pprof-addr", "",
		"serve the Go runtime's profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (default: not served)")
	return cmd
}

func (a *App) runGateway(ctx context.Context, o *gatewayOptions) error {
	setMemoryLimit(o.MemoryLimitMB)
	g, err := a.startGateway(ctx, o)
	if err != nil {
		return err
	}
	return g.wait()
}

// runningGateway is a gateway listening on its port, served until ctx ends.
type runningGateway struct {
	addr string
	done chan error
}

func (g *runningGateway) wait() error { return <-g.done }

// startGateway listens, then serves in the background: when it returns, the port accepts
// connections (evctl dev prints "ready" only then).
func (a *App) startGateway(ctx context.Context, o *gatewayOptions) (*runningGateway, error) {
	ws, err := a.gatewayWorkspace(o)
	if err != nil {
		return nil, err
	}
	cfg, err := a.gatewayConfig(ws, o)
	if err != nil {
		return nil, err
	}
	counters, closeCounters, err := a.gatewayCounters(ctx, ws, o.Env, o.counters, cfg.Kafka)
	if err != nil {
		cfg.Store.Close()
		return nil, err
	}
	cfg.Counters = counters
	cfg.Preload = o.Preload
	cfg.RegistryBudget = o.RegistryBudgetMB << 20
	listen := o.Listen
	if listen == "" {
		env, _ := ws.Project.Env(o.Env)
		listen = env.Gateway.Listen
	}
	if listen == "" {
		cfg.Store.Close()
		closeCounters()
		return nil, fmt.Errorf("gateway: no --listen and no gateway.listen in environment %s", o.Env)
	}
	gw, err := gateway.New(ctx, cfg)
	if err != nil {
		cfg.Store.Close()
		closeCounters()
		return nil, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		gw.Close()
		cfg.Store.Close()
		closeCounters()
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if o.PprofAddr != "" {
		if err := gw.ServeDebug(o.PprofAddr); err != nil {
			ln.Close()
			gw.Close()
			cfg.Store.Close()
			closeCounters()
			return nil, err
		}
	}
	cfg.Logger.Info("gateway listening", "addr", ln.Addr().String(), "env", o.Env)
	fmt.Fprintf(a.IO.ErrOut, "gateway http://%s (env %s)\n", ln.Addr(), o.Env)
	g := &runningGateway{addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() {
		defer closeCounters()
		defer cfg.Store.Close()
		defer gw.Close()
		if err := gw.Serve(ctx, ln); err != nil {
			g.done <- err
			return
		}
		g.done <- nil
	}()
	return g, nil
}

// gatewayConfig builds the gateway's configuration from evctl.yaml, the environment variables it
// names and the repository's contracts.
func (a *App) gatewayConfig(ws *workspace.Workspace, o *gatewayOptions) (gateway.Config, error) {
	env, err := ws.Project.Env(o.Env)
	if err != nil {
		return gateway.Config{}, err
	}
	g := env.Gateway
	cfg := gateway.Config{
		Logger:      slog.New(slog.NewJSONHandler(a.IO.ErrOut, nil)),
		CORSOrigins: g.CORSOrigins,
		Convert:     convert.Options{DropUnknown: g.UnknownFields == "drop"},
	}
	switch g.UnknownFields {
	case "", "reject", "drop":
	default:
		return cfg, fmt.Errorf("gateway: gateway.unknown_fields is %q; want reject or drop", g.UnknownFields)
	}
	if g.Poll != "" {
		if cfg.Poll, err = time.ParseDuration(g.Poll); err != nil || cfg.Poll <= 0 {
			return cfg, fmt.Errorf("gateway: gateway.poll %q is not a positive duration (e.g. 10s)", g.Poll)
		}
	}
	for _, d := range []struct {
		key, val string
		into     *time.Duration
	}{{"read_timeout", g.ReadTimeout, &cfg.ReadTimeout}, {"idle_timeout", g.IdleTimeout, &cfg.IdleTimeout}} {
		if d.val == "" {
			continue
		}
		if *d.into, err = time.ParseDuration(d.val); err != nil || *d.into <= 0 {
			return cfg, fmt.Errorf("gateway: gateway.%s %q is not a positive duration (e.g. 30s)", d.key, d.val)
		}
	}
	if g.MaxBody != "" {
		if cfg.MaxBody, err = parseSize(g.MaxBody); err != nil {
			return cfg, fmt.Errorf("gateway: gateway.max_body: %w", err)
		}
	}
	raw := ""
	if g.TokensEnv != "" {
		raw = a.IO.Getenv(g.TokensEnv)
	}
	if cfg.Tokens, err = gateway.ParseTokens(raw); err != nil {
		return cfg, fmt.Errorf("%w (in $%s)", err, g.TokensEnv)
	}
	if len(cfg.Tokens) == 0 {
		if o.Env != devEnv {
			return cfg, fmt.Errorf("gateway: no producer tokens: set %s to team=token pairs (only the %s environment of evctl dev runs without authentication)", orName(g.TokensEnv, "gateway.tokens_env"), devEnv)
		}
		fmt.Fprintf(a.IO.ErrOut, "warning: %s is not set: the gateway accepts events WITHOUT authentication (evctl dev, environment %s)\n", orName(g.TokensEnv, "gateway.tokens_env"), devEnv)
	}
	cfg.Teams = append([]string{}, slices.Sorted(maps.Keys(ws.Project.Teams))...) // non-nil: checked even when empty
	// Read per event, when first asked for (gateway_contracts.go).
	contracts := newGatewayContracts(ws)
	cfg.Producers = func(id string) []string {
		a, _ := contracts.event(id)
		return a.producers
	}
	cfg.Keys = func(id string) []string {
		a, _ := contracts.event(id)
		return a.key
	}
	if cfg.Kafka, err = a.gatewayKafka(ws.Root(), env.Kafka); err != nil {
		return cfg, err
	}
	url := env.Descriptors.URL
	if rest, ok := strings.CutPrefix(url, "file://"); ok && !filepath.IsAbs(rest) {
		url = "file://" + filepath.Join(ws.Root(), rest)
	}
	if cfg.Store, err = blob.Open(context.Background(), url); err != nil {
		return cfg, fmt.Errorf("gateway: descriptor store: %w", err)
	}
	return cfg, nil
}

// gatewayKafka is envconn.KafkaOpts (the one place a Kafka client's TLS and SASL are built),
// with the gateway's prefix.
func (a *App) gatewayKafka(root string, k config.KafkaEnv) ([]kgo.Opt, error) {
	opts, err := envconn.KafkaOpts(root, k, a.IO.Getenv)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return opts, nil
}

func orName(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// parseSize reads "4MiB", "512KiB", "1MB" or a plain number of bytes.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 4MiB)", s)
	}
	return n * mult, nil
}
