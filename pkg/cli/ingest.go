package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/data/ingest"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

type ingestOptions struct {
	Env    string
	Sinks  []string
	Events []string
	Listen string
	// MemoryLimitMB is --memory-limit-mb (memlimit.go).
	MemoryLimitMB int64
}

func newIngestCmd(app *App) *cobra.Command {
	o := &ingestOptions{}
	cmd := &cobra.Command{
		Use: "ingest --env NAME [--sink delta|clickhouse|bigquery]... [--event E]... [--listen ADDR]",
		Example: `  evctl ingest --env prod --listen 0.0.0.0:9101
  evctl ingest --env local --sink delta
  evctl ingest --env local --sink clickhouse --event feed/item_clicked
  evctl ingest --env prod --sink bigquery`,
		Short: "Run the ingestion workers: events from Kafka into their Delta, ClickHouse and BigQuery tables",
		Long: `Consumes the topics of the events that have a table in the sink, in the consumer group
evctl.<env>.ingest.<sink>, and writes them to the tables apply created (SPEC-dataplane sections 8
and 9). Start more processes to scale out; partitions spread over them. Delta is exactly once:
each commit records the Kafka offsets it holds (txn actions) and a restart resumes after them.
BigQuery batch tables (ingestion.mode: batch, load jobs of Parquet staged at
bigquery.staging_url) are exactly once the same way, through a manifest per load job; BigQuery
streaming (the Storage Write API's _default stream) is at least once: deduplicate on event_id.

Records that cannot be decoded go to <topic>.dlq with the reason. A record whose schema has a
field its table lacks pauses its partition until evctl apply adds the column. /metrics, /healthz
and /readyz are served on --listen (default 127.0.0.1:0, printed at start). SIGTERM commits what
was written and leaves the group.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.runIngest(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Env, "env", "", "environment to ingest (required)")
	cmd.Flags().StringArrayVar(&o.Sinks, "sink", nil, "sink to write: delta, clickhouse or bigquery (repeatable; default every sink the environment has)")
	cmd.Flags().StringArrayVar(&o.Events, "event", nil, "only this event, domain/name (repeatable)")
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:0", "address of /metrics, /healthz and /readyz")
	memoryLimitFlag(cmd, &o.MemoryLimitMB)
	return cmd
}

func (a *App) runIngest(ctx context.Context, o *ingestOptions) error {
	setMemoryLimit(o.MemoryLimitMB)
	r, err := a.startIngest(ctx, o, nil)
	if err != nil {
		return err
	}
	return r.wait()
}

// runningIngest is ingestion running in the background until ctx ends.
type runningIngest struct{ done chan error }

func (r *runningIngest) wait() error { return <-r.done }

// startIngest builds the workers and runs them in the background. tune adjusts every worker
// (evctl dev shortens backoff and metadata refresh, since topics and tables appear with apply).
func (a *App) startIngest(ctx context.Context, o *ingestOptions, tune func(*worker.Config)) (*runningIngest, error) {
	if o.Env == "" {
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("--env is required")}
	}
	ws, err := a.Workspace()
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	env, err := ws.Project.Env(o.Env)
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	events := ws.Events
	if len(o.Events) > 0 {
		events = nil
		for _, id := range o.Events {
			ev := ws.Event(id)
			if ev == nil {
				return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("ingest: no event %q in this repository", id)}
			}
			events = append(events, ev)
		}
	}
	kafka, err := a.gatewayKafka(ws.Root(), env.Kafka)
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("ingest: %w", trimGateway(err))}
	}
	open := func(url string) (blob.Store, error) {
		if rest, ok := strings.CutPrefix(url, "file://"); ok && !filepath.IsAbs(rest) {
			url = "file://" + filepath.Join(ws.Root(), rest)
		}
		return blob.Open(ctx, url)
	}
	desc, err := open(env.Descriptors.URL)
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("ingest: descriptor store: %w", err)}
	}
	closers := []func() error{desc.Close}
	started := false
	defer func() {
		if !started {
			for _, c := range closers {
				_ = c()
			}
		}
	}()
	var lake blob.Store
	if env.Delta.URL != "" {
		if lake, err = open(env.Delta.URL); err != nil {
			return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("ingest: delta lake: %w", err)}
		}
		closers = append(closers, lake.Close)
	}
	log := slog.New(slog.NewJSONHandler(a.IO.ErrOut, nil))
	plans, err := ingest.Build(ctx, ingest.Options{Env: o.Env, Project: ws.Project, Events: events, Sinks: o.Sinks,
		Kafka: kafka, Descriptors: desc, Lake: lake, Logger: log, Tune: tune, Getenv: a.IO.Getenv})
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("ingest: %w", err)}
	}
	for _, p := range plans {
		fmt.Fprintf(a.IO.ErrOut, "ingest %s: group %s, %d events (%s)\n", p.Sink, p.Group, len(p.Events), strings.Join(p.Events, ", "))
	}
	fmt.Fprintf(a.IO.ErrOut, "ingest metrics http://%s/metrics (env %s)\n", ln.Addr(), o.Env)
	r := &runningIngest{done: make(chan error, 1)}
	started = true
	go func() {
		defer func() {
			for _, c := range closers {
				_ = c()
			}
		}()
		if err := ingest.Run(ctx, plans, ln); err != nil {
			r.done <- &ExitError{Code: ExitFailure, Err: err}
			return
		}
		r.done <- nil
	}()
	return r, nil
}

// trimGateway drops the "gateway: " prefix of the shared Kafka option builder's errors.
func trimGateway(err error) error {
	msg, ok := strings.CutPrefix(err.Error(), "gateway: ")
	if !ok {
		return err
	}
	return fmt.Errorf("%s", msg)
}
