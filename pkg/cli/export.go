package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

func newExportCmd(app *App) *cobra.Command {
	var format, chVersion string
	cmd := &cobra.Command{
		Use: "export <event> --format proto|bigquery|delta|jsonschema|clickhouse",
		Example: `  evctl export feed/video_played --format proto
  evctl export feed/video_played --format bigquery > video_played.schema.json
  evctl export feed/video_played --format jsonschema
  evctl export feed/video_played --format clickhouse --clickhouse-version 24.3`,
		Short:             "Print an event's contract as its effective .proto, BigQuery schema, Delta schema or JSON Schema",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeEvents(app),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := app.Workspace()
			if err != nil {
				return err
			}
			ev := ws.Event(args[0])
			if ev == nil {
				return fmt.Errorf("export: no event %q (use <domain>/<event>)", args[0])
			}
			// Only this event is checked and compiled (with its comments), not the repository:
			// its descriptors are the same either way, and on 10,000 events the whole
			// repository's took 3.8 GB.
			one := &workspace.Workspace{Project: ws.Project, Events: []*contract.Event{ev}, Diags: ws.Diags}
			rep := lint.Check(cmd.Context(), one, lint.Options{SkipGenFresh: true})
			md, ok := rep.Compiled.Messages[ev.ID()]
			if !ok {
				if err := app.failOnDiags(rep.Diags); err != nil {
					return err
				}
				return fmt.Errorf("export: %s did not compile", ev.ID())
			}
			out, err := exportAs(format, rep.Compiled.Outputs[ev.ID()].Source, md)
			if format == "clickhouse" { // export_clickhouse.go
				out, err = exportClickHouse(ws.Project, ev, md, chVersion)
			}
			if err != nil {
				return err
			}
			_, err = app.IO.Out.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "proto", "proto, bigquery, delta, jsonschema or clickhouse")
	cmd.Flags().StringVar(&chVersion, "clickhouse-version", defaultClickHouseVersion, "the ClickHouse server version --format clickhouse writes DDL for")
	return cmd
}
