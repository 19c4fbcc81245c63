package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/data/route"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// routeOptions are `evctl route`'s flags.
type routeOptions struct {
	Env       string
	Consumers []string
	Listen    string
	// SessionTimeout is Kafka's session.timeout.ms for the route workers' group membership.
	SessionTimeout time.Duration
	// MemoryLimitMB is --memory-limit-mb (memlimit.go).
	MemoryLimitMB int64
}

func newRouteCmd(app *App) *cobra.Command {
	o := &routeOptions{}
	cmd := &cobra.Command{
		Use: "route --env NAME [--consumer C]... [--listen ADDR]",
		Example: `  evctl route --env prod --listen 0.0.0.0:9103
  evctl route --env local --consumer crm_nudges`,
		Short: "Deliver events to the consumers apply published (one worker per consumer, group evctl.<env>.consumer.<name>)",
		Long: `Reads each consumer's events in partition order, keeps those its where filter accepts, renders
its template and delivers the body over HTTP with Idempotency-Key: <event_id>, retrying 429, 5xx
and timeouts with exponential backoff and jitter up to retry.max_attempts; what cannot be delivered
goes to <env>.consumers.<name>.dlq with the last error. At least once, in order per key. The URL
comes from the variable the consumer's deliver.http.url_env names and is never printed;
deliver.kafka produces the body to its topic instead, keyed by the event's key.

It runs the consumer definitions evctl apply published to the environment's descriptor store
(<descriptors.url>/consumers/index.json), not the checkout, and polls them every gateway.poll
(default 10s): a changed template, where, deliver or retry takes effect without a restart.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return app.runRoute(cmd.Context(), o) },
	}
	envFlag(cmd, &o.Env, "environment to deliver from")
	cmd.Flags().StringArrayVar(&o.Consumers, "consumer", nil, "only this consumer (repeatable)")
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:0", "address for /metrics, /healthz and /readyz")
	memoryLimitFlag(cmd, &o.MemoryLimitMB)
	cmd.Flags().DurationVar(&o.SessionTimeout, "session-timeout", 45*time.Second,
		"how long the group waits for a member that stopped heartbeating (a killed process) before its partitions move (session.timeout.ms)")
	return cmd
}

func (a *App) runRoute(ctx context.Context, o *routeOptions) error {
	setMemoryLimit(o.MemoryLimitMB)
	if o.SessionTimeout <= 0 {
		return fmt.Errorf("route: --session-timeout %s must be more than 0", o.SessionTimeout)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("route: listen %s: %w", o.Listen, err)
	}
	rc, closeStore, err := a.routeConfig(ctx, o.Env)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeStore()
	rc.Only, rc.Listener = o.Consumers, ln
	rc.Tune = func(wc *worker.Config) { wc.Kafka = append(wc.Kafka, kgo.SessionTimeout(o.SessionTimeout)) }
	fmt.Fprintf(a.IO.ErrOut, "route: consumers published to %s in %s (polled every %s); metrics http://%s/metrics\n", rc.Descriptors.URL(), o.Env, rc.Poll, ln.Addr())
	return route.Run(ctx, rc)
}

// routeConfig is what `evctl route` and `evctl dev` share: the environment's Kafka, its
// descriptor store (where apply publishes the consumers) and gateway.poll.
func (a *App) routeConfig(ctx context.Context, envName string) (route.RunConfig, func(), error) {
	ws, err := a.Workspace()
	if err != nil {
		return route.RunConfig{}, nil, err
	}
	envCfg, err := ws.Project.Env(envName)
	if err != nil {
		return route.RunConfig{}, nil, err
	}
	poll := route.DefaultPoll
	if p := envCfg.Gateway.Poll; p != "" {
		if poll, err = time.ParseDuration(p); err != nil || poll <= 0 {
			return route.RunConfig{}, nil, fmt.Errorf("route: gateway.poll %q is not a positive duration (e.g. 10s)", p)
		}
	}
	kopts, err := envconn.KafkaOpts(ws.Root(), envCfg.Kafka, a.IO.Getenv)
	if err != nil {
		return route.RunConfig{}, nil, err
	}
	desc, err := blob.Open(ctx, resolveFileURL(ws.Root(), envCfg.Descriptors.URL))
	if err != nil {
		return route.RunConfig{}, nil, fmt.Errorf("route: descriptor store: %w", err)
	}
	log := slog.New(slog.NewTextHandler(a.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return route.RunConfig{Env: envName, Getenv: a.IO.Getenv, Poll: poll, Kafka: kopts, Descriptors: desc, Logger: log},
		func() { desc.Close() }, nil
}
