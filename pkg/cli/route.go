package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/data/route"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// routeOptions are `evctl route`'s flags.
type routeOptions struct {
	Env       string
	Consumers []string
	Listen    string
}

func newRouteCmd(app *App) *cobra.Command {
	o := &routeOptions{}
	cmd := &cobra.Command{
		Use: "route --env NAME [--consumer C]... [--listen ADDR]",
		Example: `  evctl route --env prod --listen 0.0.0.0:9103
  evctl route --env local --consumer crm_nudges`,
		Short: "Deliver events to the consumers of consumers/*.yaml (one worker per consumer, group evctl.<env>.consumer.<name>)",
		Long: `Reads each consumer's events in partition order, keeps those its where filter accepts, renders
its template and delivers the body over HTTP with Idempotency-Key: <event_id>, retrying 429, 5xx
and timeouts with exponential backoff and jitter up to retry.max_attempts; what cannot be delivered
goes to <env>.consumers.<name>.dlq with the last error. At least once, in order per key. The URL
comes from the variable the consumer's deliver.http.url_env names and is never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return app.runRoute(cmd.Context(), o) },
	}
	envFlag(cmd, &o.Env, "environment to deliver from")
	cmd.Flags().StringArrayVar(&o.Consumers, "consumer", nil, "only this consumer (repeatable)")
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:0", "address for /metrics, /healthz and /readyz")
	return cmd
}

func (a *App) runRoute(ctx context.Context, o *routeOptions) error {
	ws, err := a.Workspace()
	if err != nil {
		return err
	}
	envCfg, err := ws.Project.Env(o.Env)
	if err != nil {
		return err
	}
	var routes []route.Route
	found := map[string]bool{}
	for _, c := range ws.Consumers {
		if len(o.Consumers) > 0 && !slices.Contains(o.Consumers, c.Name) {
			continue
		}
		found[c.Name] = true
		r := route.Route{Consumer: c, Topics: map[string]string{}}
		for _, id := range c.Events {
			ev := ws.Event(id)
			if ev == nil {
				return fmt.Errorf("route: consumer %s: unknown event %s (run evctl lint)", c.Name, id)
			}
			if !envCfg.Hosts(ev.Stage) {
				return fmt.Errorf("route: consumer %s: event %s is not hosted by environment %s", c.Name, id, o.Env)
			}
			r.Topics[id] = ws.Project.TopicName(o.Env, ev)
		}
		if h := c.Deliver.HTTP; h != nil {
			r.URL = a.IO.Getenv(h.URLEnv)
		}
		routes = append(routes, r)
	}
	for _, name := range o.Consumers {
		if !found[name] {
			return fmt.Errorf("route: no consumer %q in consumers/", name)
		}
	}
	if len(routes) == 0 {
		return fmt.Errorf("route: no consumers in consumers/ to run")
	}
	kopts, err := envconn.KafkaOpts(ws.Root(), envCfg.Kafka, a.IO.Getenv)
	if err != nil {
		return err
	}
	desc, err := blob.Open(ctx, resolveFileURL(ws.Root(), envCfg.Descriptors.URL))
	if err != nil {
		return fmt.Errorf("route: descriptor store: %w", err)
	}
	defer desc.Close()
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("route: listen %s: %w", o.Listen, err)
	}
	fmt.Fprintf(a.IO.ErrOut, "route: %d consumers in %s; metrics http://%s/metrics\n", len(routes), o.Env, ln.Addr())
	log := slog.New(slog.NewTextHandler(a.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return route.Run(ctx, route.RunConfig{Env: o.Env, Routes: routes, Kafka: kopts, Descriptors: desc,
		HTTP: &http.Client{}, Listener: ln, Logger: log})
}
