package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

type lintOptions struct {
	Format  string
	Paths   []string
	Rules   bool
	NoCache bool
}

func newLintCmd(app *App) *cobra.Command {
	opts := &lintOptions{}
	cmd := &cobra.Command{
		Use: "lint [paths...]",
		Example: `  evctl lint
  evctl lint contracts/feed/video_played.yaml
  # annotations on the pull request
  evctl lint --format github
  evctl lint --rules`,
		Short: "Check contracts: names, owners, numbers, types, sinks, examples, raw protos and gen/ freshness",
		Long: `Check the whole contracts repository. Only the events whose inputs changed since the last
run are loaded and compiled again (.evctl/cache/incr, keyed by content); the findings are exactly
those of a run from scratch (--no-cache). With paths, only findings in those files or folders are
shown; the repository-wide rules (unique names, consumers, CODEOWNERS, gen/ freshness) still
see every event, through the cache.
Exit 0 when clean, 1 when there are errors.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if opts.Format == "" {
				opts.Format = app.Globals.Output
			}
			return runLint(cmd, app, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "", "text, json or github (default: the -o value)")
	cmd.Flags().BoolVar(&opts.Rules, "rules", false, "list every rule ID with its doc line")
	cmd.Flags().BoolVar(&opts.NoCache, "no-cache", false, "check every event again, neither reading nor writing .evctl/cache")
	return cmd
}

func runLint(cmd *cobra.Command, app *App, opts *lintOptions) error {
	if opts.Rules {
		for _, r := range lint.Rules() {
			fmt.Fprintf(app.IO.Out, "%-28s %s\n", r.ID, r.Doc)
		}
		return nil
	}
	// One date for the cache key and the waiver expiry check, even across midnight.
	today := time.Now().UTC().Format(time.DateOnly)
	iopts := lint.IncrOptions{Today: today}
	if opts.NoCache {
		// Every event checked again, through an empty cache thrown away afterwards.
		dir, done, err := throwawayCache()
		if err != nil {
			return err
		}
		defer done()
		iopts.CacheDir = dir
	} else if cfg, err := config.Find(app.Globals.Config, app.IO.WorkDir); err == nil && len(opts.Paths) > 0 {
		// Only the events whose inputs changed are checked again (.evctl/cache/incr); the
		// findings are those of the whole pipeline (lint.Check).
		// With paths that hold neither gen/proto nor .github/CODEOWNERS, the freshness checks
		// could only report findings the paths filter out: a pre-commit hook skips them.
		iopts.SkipGenFresh = !pathsCover(filepath.Dir(cfg), app.IO.WorkDir, opts.Paths, workspace.GenDir, ".github/CODEOWNERS")
	}
	rep, err := lint.CheckIncremental(cmd.Context(), app.Globals.Config, app.IO.WorkDir, iopts)
	if err != nil {
		return err
	}
	return app.reportLint(filterPaths(rep.Root(), app.IO.WorkDir, rep.Diags, opts.Paths), rep.Events, opts.Format)
}

// reportLint renders lint's findings and summary, and fails on errors.
func (a *App) reportLint(ds diag.List, events int, format string) error {
	if err := a.renderDiags(a.IO.Out, ds, format); err != nil {
		return err
	}
	errs, warns := countDiags(ds)
	if format == "text" || format == "" {
		if errs+warns == 0 {
			fmt.Fprintf(a.IO.ErrOut, "%d events checked: no problems\n", events)
		} else {
			fmt.Fprintf(a.IO.ErrOut, "%d events checked: %d error(s), %d warning(s)\n", events, errs, warns)
		}
	}
	if ds.HasErrors() {
		return silent(ExitFailure)
	}
	return nil
}

// filterPaths keeps findings in the given files or folders (relative to wd or absolute).
func filterPaths(root, wd string, ds diag.List, paths []string) diag.List {
	if len(paths) == 0 {
		return ds
	}
	var prefixes []string
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			continue
		}
		prefixes = append(prefixes, filepath.ToSlash(rel))
	}
	var out diag.List
	for _, d := range ds {
		for _, pre := range prefixes {
			if pre == "." || d.File == pre || strings.HasPrefix(d.File, strings.TrimSuffix(pre, "/")+"/") {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// pathsCover reports whether findings in any of targets (repository paths: a folder or a file)
// could pass filterPaths with paths.
func pathsCover(root, wd string, paths []string, targets ...string) bool {
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			continue
		}
		pre := strings.TrimSuffix(filepath.ToSlash(rel), "/")
		for _, t := range targets {
			if pre == "." || pre == t || strings.HasPrefix(t+"/", pre+"/") || strings.HasPrefix(pre, t+"/") {
				return true
			}
		}
	}
	return false
}
