package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

func newGenerateCmd(app *App) *cobra.Command {
	var noCache bool
	cmd := &cobra.Command{
		Use: "generate",
		Example: `  # write gen/proto/** from the contracts (commit it with them)
  evctl generate`,
		Short: "Write gen/proto/** from the contracts (platform fields injected)",
		Long: `Write gen/proto/** from the contracts. Only the events whose inputs changed since the last
run are checked again (.evctl/cache/incr), and only files whose content changed are written:
the others keep their bytes and modification times.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			res, err := generate(cmd, app, noCache)
			if err != nil {
				return err
			}
			if app.Globals.Output == "json" {
				return json.NewEncoder(app.IO.Out).Encode(res)
			}
			for _, f := range res.Written {
				fmt.Fprintf(app.IO.Out, "wrote   %s\n", f)
			}
			for _, f := range res.Removed {
				fmt.Fprintf(app.IO.Out, "removed %s\n", f)
			}
			fmt.Fprintf(app.IO.ErrOut, "%d files in %s (%d unchanged)\n", res.Files, workspace.GenDir, res.Unchanged)
			return nil
		},
	}
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "check every event again, neither reading nor writing .evctl/cache")
	return cmd
}

// generate checks the contracts as lint does (without gen/ freshness) and writes gen/proto.
func generate(cmd *cobra.Command, app *App, noCache bool) (*lint.GenResult, error) {
	opts := lint.IncrOptions{SkipGenFresh: true}
	if noCache {
		dir, done, err := throwawayCache()
		if err != nil {
			return nil, err
		}
		defer done()
		opts.CacheDir = dir
	}
	rep, err := lint.CheckIncremental(cmd.Context(), app.Globals.Config, app.IO.WorkDir, opts)
	if err != nil {
		return nil, err
	}
	if err := app.failOnDiags(rep.Diags); err != nil {
		return nil, err
	}
	return rep.WriteGen()
}

func newBuildCmd(app *App) *cobra.Command {
	var out string
	var noCache bool
	cmd := &cobra.Command{
		Use: "build -o FILE",
		Example: `  evctl build -o descriptors.binpb
  evctl build -o - > descriptors.binpb
  evctl build -o descriptors.binpb --no-cache`,
		Short: "Write one deterministic FileDescriptorSet (binary) of every contract",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("build needs -o FILE (- for stdout)")
			}
			if err := buildOutputIsFile(out); err != nil {
				return err
			}
			// One date for the cache key and the waiver expiry check, even across midnight.
			opts := lint.IncrOptions{Today: time.Now().UTC().Format(time.DateOnly), SkipGenFresh: true}
			if noCache {
				dir, done, err := throwawayCache()
				if err != nil {
					return err
				}
				defer done()
				opts.CacheDir = dir
			}
			// Events whose inputs did not change come from .evctl/cache/incr, compiled files
			// included; the set is byte for byte the one compiled from scratch.
			rep, err := lint.CheckIncremental(cmd.Context(), app.Globals.Config, app.IO.WorkDir, opts)
			if err != nil {
				return err
			}
			if err := app.failOnDiags(rep.Diags); err != nil {
				return err
			}
			b, events, err := rep.Set()
			if err != nil {
				return err
			}
			return app.writeBuild(out, b, events)
		},
	}
	// SPEC 3 names this flag -o FILE; it shadows the global -o format, which build has no use for.
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (- for stdout)")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "compile every event again, neither reading nor writing .evctl/cache")
	return cmd
}

// writeBuild writes a built descriptor set to out (- for stdout) with its summary on stderr.
func (a *App) writeBuild(out string, b []byte, events int) error {
	if out == "-" {
		_, err := a.IO.Out.Write(b)
		return err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(a.IO.WorkDir, out)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	// stdout stays free for -o -, so the summary goes to stderr.
	fmt.Fprintf(a.IO.ErrOut, "wrote %s: %d events, %d bytes, sha256 %s\n", out, events, len(b), compile.SHA256(b))
	return nil
}
