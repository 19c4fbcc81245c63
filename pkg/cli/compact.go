package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	sinkdelta "github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/data/ingest/delta"
	"github.com/evctl/evctl/pkg/storage/blob"
)

func newCompactCmd(app *App) *cobra.Command {
	var env string
	var small int64
	cmd := &cobra.Command{
		Use: "compact <event> --env NAME",
		Example: `  evctl compact feed/video_played --env prod
  evctl compact feed/video_played --env prod --small-bytes 134217728 -o json`,
		Short: "Rewrite the small files of an event's Delta table into one file per partition",
		Long: `Reads the table's live files, rewrites those under --small-bytes into one file per partition
and commits remove + add actions with dataChange false (readers of changes and the ingestion
workers' positions are unaffected). Safe while evctl ingest runs: appends are retried around;
a concurrent compaction or delete makes it stop without committing (exit 1; run it again).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			res, err := app.runCompact(cmd.Context(), args[0], env, small)
			if err != nil {
				return err
			}
			if app.Globals.Output == "json" {
				enc := json.NewEncoder(app.IO.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			if res.Nothing {
				fmt.Fprintf(app.IO.Out, "%s: nothing to compact (version %d)\n", res.Location, res.Version)
				return nil
			}
			fmt.Fprintf(app.IO.Out, "%s: %d files rewritten into %d (%d rows), version %d\n", res.Location, res.Removed, res.Added, res.Rows, res.Version)
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment whose lake holds the table (required)")
	cmd.Flags().Int64Var(&small, "small-bytes", 64<<20, "files smaller than this are rewritten")
	return cmd
}

func (a *App) runCompact(ctx context.Context, id, envName string, small int64) (delta.CompactResult, error) {
	fail := func(err error) (delta.CompactResult, error) {
		return delta.CompactResult{}, &ExitError{Code: ExitFailure, Err: err}
	}
	if envName == "" {
		return fail(fmt.Errorf("--env is required"))
	}
	ws, err := a.Workspace()
	if err != nil {
		return fail(err)
	}
	ev := ws.Event(id)
	if ev == nil {
		return fail(fmt.Errorf("compact: no event %q in this repository", id))
	}
	if ev.Sinks.Delta == nil {
		return fail(fmt.Errorf("compact: %s has no Delta table (sinks.delta)", ev.ID()))
	}
	env, err := ws.Project.Env(envName)
	if err != nil {
		return fail(err)
	}
	url := env.Delta.URL
	if url == "" {
		return fail(fmt.Errorf("compact: environment %s has no delta.url", envName))
	}
	if rest, ok := strings.CutPrefix(url, "file://"); ok && !filepath.IsAbs(rest) {
		url = "file://" + filepath.Join(ws.Root(), rest)
	}
	lake, err := blob.Open(ctx, url)
	if err != nil {
		return fail(fmt.Errorf("compact: %w", err))
	}
	defer lake.Close()
	loc, err := sinkdelta.Locate(ctx, lake, ws.Project.DeltaTableName(envName, ev))
	if err != nil {
		return fail(fmt.Errorf("compact: %w", err))
	}
	res, err := delta.Compact(ctx, lake, loc, delta.CompactOptions{SmallBytes: small})
	if err != nil {
		return fail(err)
	}
	return res, nil
}
