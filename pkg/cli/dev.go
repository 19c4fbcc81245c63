package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/devstack"
)

func newDevCmd(app *App) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use: "dev",
		Example: `  # the local stack (Kafka, GCS, BigQuery emulator, gateway, ingestion) until Ctrl-C
  evctl dev
  evctl dev --env local`,
		Short: "Run the embedded local stack (Kafka, GCS, BigQuery emulator, gateway, ingestion) for the local environment until signalled",
		Long: `Starts kfake (SASL/SCRAM and ACLs on) and fake-gcs-server in this process at the addresses
the local environment names, persisted under .evctl/dev, and writes .evctl/dev/env. Prints
"ready" on stdout once both accept connections. Then:

  . .evctl/dev/env && evctl apply --env local --auto-approve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := app.Workspace()
			if err != nil {
				return err
			}
			st, err := devstack.Start(cmd.Context(), devstack.Options{Project: ws.Project, Env: env, Getenv: app.IO.Getenv})
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintf(app.IO.ErrOut, "kafka   %s (SASL/SCRAM, ACLs on; admin user %s)\n", st.KafkaAddr, devstack.AdminUser)
			fmt.Fprintf(app.IO.ErrOut, "gcs     http://%s\n", st.GCSAddr)
			fmt.Fprintf(app.IO.ErrOut, "env     %s (source it: . %s)\n", st.EnvFile, st.EnvFile)
			if st.ClickHouseURL != "" {
				fmt.Fprintf(app.IO.ErrOut, "clickhouse %s\n", st.ClickHouseURL)
			} else if st.ClickHouseNote != "" {
				fmt.Fprintln(app.IO.ErrOut, st.ClickHouseNote)
			}
			if st.BigQueryEmulator != nil {
				fmt.Fprintf(app.IO.ErrOut, "bigquery http://%s (emulator; Storage Write API %s)\n", st.BigQueryEmulator.REST, st.BigQueryEmulator.GRPC)
			}
			if st.BigQueryNote != "" {
				fmt.Fprintln(app.IO.ErrOut, st.BigQueryNote)
			} else if e, _ := ws.Project.Env(env); e.BigQuery.EndpointEnv != "" && st.Vars[e.BigQuery.EndpointEnv] == "" {
				fmt.Fprintln(app.IO.ErrOut, "bigquery: no emulator found (scripts/install-bigquery-emulator.sh installs one); bigquery_table resources are skipped locally")
			}
			// The gateway runs in this process against the stack it just started: the stack's
			// variables overlay the caller's, and the GCS client reads the emulator host from
			// the process environment.
			if err := os.Setenv("STORAGE_EMULATOR_HOST", st.GCSAddr); err != nil {
				return err
			}
			io := *app.IO
			io.Getenv = func(k string) string {
				if v, ok := st.Vars[k]; ok {
					return v
				}
				return app.IO.Getenv(k)
			}
			devApp := &App{IO: &io, Globals: app.Globals}
			// The count worker runs here too, over the store the gateway reads (counters.store).
			counters, countWait, err := devApp.devCounters(cmd.Context(), ws, env)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			gw, err := devApp.startGateway(cmd.Context(), &gatewayOptions{Env: env, counters: counters})
			if err != nil {
				return err
			}
			// Ingestion runs beside the gateway; topics and tables appear with apply, so it
			// looks for them often and backs off briefly.
			ing, err := devApp.startIngest(cmd.Context(), &ingestOptions{Env: env, Listen: "127.0.0.1:0"}, devIngestTune)
			if err != nil {
				fmt.Fprintf(app.IO.ErrOut, "ingest: not running: %v\n", err)
			}
			// The route worker delivers the repository's consumers once apply publishes them.
			routeWait := devApp.devRoute(cmd.Context(), ws, env)
			fmt.Fprintln(app.IO.Out, "ready")
			waitBigQuery(cmd.Context(), app, st)
			fmt.Fprintln(app.IO.ErrOut, "stopping; data kept in .evctl/dev")
			if ing != nil {
				if err := ing.wait(); err != nil {
					fmt.Fprintf(app.IO.ErrOut, "ingest: %v\n", err)
				}
			}
			if err := routeWait(); err != nil {
				fmt.Fprintf(app.IO.ErrOut, "route: %v\n", err)
			}
			gwErr := gw.wait()
			if err := countWait(); err != nil && gwErr == nil {
				gwErr = &ExitError{Code: ExitFailure, Err: err}
			}
			return gwErr
		},
	}
	cmd.Flags().StringVar(&env, "env", "local", "environment whose addresses the stack takes")
	return cmd
}

// waitBigQuery runs until ctx ends, looking again every few seconds for a BigQuery emulator
// started after the stack, and rewriting the env file once one answers.
func waitBigQuery(ctx context.Context, app *App, st *devstack.Stack) {
	found := st.BigQuery() != ""
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if found {
				continue
			}
			ok, err := st.RefreshBigQuery(ctx)
			if err != nil {
				fmt.Fprintf(app.IO.ErrOut, "bigquery: %v\n", err)
				continue
			}
			if ok {
				found = true
				fmt.Fprintf(app.IO.ErrOut, "bigquery %s (emulator found; %s updated)\n", st.BigQuery(), st.EnvFile)
			}
		}
	}
}

// devIngestTune makes the dev stack's ingestion notice new topics and tables quickly.
func devIngestTune(c *worker.Config) {
	c.MaxBackoff = 2 * time.Second
	c.Kafka = append(c.Kafka, kgo.MetadataMinAge(time.Second), kgo.MetadataMaxAge(2*time.Second))
}
