package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/data/count"
	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// countOptions are `evctl count`'s flags.
type countOptions struct {
	Env      string
	Events   []string
	Counters []string
	Listen   string
	// MemoryLimitMB is --memory-limit-mb (memlimit.go).
	MemoryLimitMB int64
}

func newCountCmd(app *App) *cobra.Command {
	o := &countOptions{}
	cmd := &cobra.Command{
		Use: "count --env NAME [--event E]... [--counter N]... [--listen ADDR]",
		Example: `  evctl count --env prod --listen 0.0.0.0:9102
  evctl count --env local --event posts/post_liked
  evctl count --env prod --counter post_likes --counter post_likes_by_author`,
		Short: "Run the engagement counters of the environment's events (a worker in group evctl.<env>.count)",
		Long: `Aggregates each counter per key in tumbling windows chosen by the key's value, writes one store
update per key per window with the source partition's offset fence (exactly once), then a changelog
record and a record per milestone crossed. Start more processes to scale out; partitions spread
over them. /metrics, /healthz and /readyz are served on --listen.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return app.runCount(cmd.Context(), o) },
	}
	cmd.Flags().StringVar(&o.Env, "env", "", "environment to count in (required)")
	cmd.Flags().StringArrayVar(&o.Events, "event", nil, "only the counters of this event (<domain>/<event>; repeatable)")
	cmd.Flags().StringArrayVar(&o.Counters, "counter", nil, "only this counter (repeatable)")
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:0", "address for /metrics, /healthz and /readyz")
	memoryLimitFlag(cmd, &o.MemoryLimitMB)
	return cmd
}

func (a *App) runCount(ctx context.Context, o *countOptions) error {
	setMemoryLimit(o.MemoryLimitMB)
	fail := func(err error) error { return &ExitError{Code: ExitFailure, Err: err} }
	ws, err := a.Workspace()
	if err != nil {
		return fail(err)
	}
	rc, closeAll, err := a.countConfig(ctx, ws, o, nil)
	if err != nil {
		return fail(err)
	}
	defer closeAll()
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fail(fmt.Errorf("count: listen %s: %w", o.Listen, err))
	}
	rc.Listener = ln
	fmt.Fprintf(a.IO.ErrOut, "count: %d counters of %d events in %s; metrics http://%s/metrics\n",
		countersIn(rc.Events), len(rc.Events), o.Env, ln.Addr())
	if err := count.Run(ctx, rc); err != nil {
		return fail(err)
	}
	return nil
}

// countConfig resolves what a count worker runs from the repository and the environment. store,
// when given, is used (evctl dev shares one with its gateway); otherwise the environment's
// counters.store is opened, and closeAll closes it.
func (a *App) countConfig(ctx context.Context, ws *workspace.Workspace, o *countOptions, store counterstore.Store) (count.RunConfig, func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if o.Env == "" {
		return count.RunConfig{}, closeAll, fmt.Errorf("count: --env is required")
	}
	envCfg, err := ws.Project.Env(o.Env)
	if err != nil {
		return count.RunConfig{}, closeAll, err
	}
	events, err := count.Select(ws.Events, envCfg.Hosts, o.Events, o.Counters)
	if err != nil {
		return count.RunConfig{}, closeAll, err
	}
	if len(events) == 0 {
		return count.RunConfig{}, closeAll, fmt.Errorf("count: no event hosted in %s declares counters", o.Env)
	}
	kopts, err := envconn.KafkaOpts(ws.Root(), envCfg.Kafka, a.IO.Getenv)
	if err != nil {
		return count.RunConfig{}, closeAll, err
	}
	desc, err := blob.Open(ctx, resolveFileURL(ws.Root(), envCfg.Descriptors.URL))
	if err != nil {
		return count.RunConfig{}, closeAll, fmt.Errorf("count: descriptor store: %w", err)
	}
	closers = append(closers, func() { desc.Close() })
	if store == nil {
		if store, err = a.openCounterStore(ctx, ws.Root(), o.Env, envCfg.Counters); err != nil {
			closeAll()
			return count.RunConfig{}, func() {}, err
		}
		closers = append(closers, func() { store.Close() })
	}
	// A long-running worker logs at info level: it says what it does.
	log := slog.New(slog.NewTextHandler(a.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return count.RunConfig{Env: o.Env, Events: events, Topics: counterTopics(ws, o.Env, events), Kafka: kopts,
		Descriptors: desc, Store: store, Logger: log}, closeAll, nil
}

// resolveFileURL makes a relative file:// URL relative to the repository root.
func resolveFileURL(root, url string) string {
	if rest, ok := strings.CutPrefix(url, "file://"); ok && !filepath.IsAbs(rest) {
		return "file://" + filepath.Join(root, rest)
	}
	return url
}

func countersIn(evs []count.EventCounters) int {
	n := 0
	for _, e := range evs {
		n += len(e.Counters)
	}
	return n
}

func counterTopics(ws *workspace.Workspace, env string, evs []count.EventCounters) map[string]string {
	out := map[string]string{}
	for _, e := range evs {
		out[e.Event] = ws.Project.TopicName(env, ws.Event(e.Event))
	}
	return out
}
