package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/diag"
	"github.com/evctl/evctl/pkg/lint"
)

type lintOptions struct {
	Format string
	Paths  []string
	Rules  bool
}

func newLintCmd(app *App) *cobra.Command {
	opts := &lintOptions{}
	cmd := &cobra.Command{
		Use:   "lint [paths...]",
		Short: "Check contracts: names, owners, numbers, types, sinks, examples, raw protos and gen/ freshness",
		Long: `Check the whole contracts repository. With paths, only findings in those files or
folders are shown (the repository is still loaded whole, so uniqueness is checked).
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
	return cmd
}

func runLint(cmd *cobra.Command, app *App, opts *lintOptions) error {
	if opts.Rules {
		for _, r := range lint.Rules() {
			fmt.Fprintf(app.IO.Out, "%-28s %s\n", r.ID, r.Doc)
		}
		return nil
	}
	ws, err := app.Workspace()
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	rep := lint.Check(cmd.Context(), ws, lint.Options{SkipSourceInfo: true}) // lint reads no comments; dropping source info saves ~20% CPU
	ds := filterPaths(ws.Root(), app.IO.WorkDir, rep.Diags, opts.Paths)
	if err := app.renderDiags(app.IO.Out, ds, opts.Format); err != nil {
		return err
	}
	errs, warns := countDiags(ds)
	if opts.Format == "text" || opts.Format == "" {
		if errs+warns == 0 {
			fmt.Fprintf(app.IO.ErrOut, "%d events checked: no problems\n", len(ws.Events))
		} else {
			fmt.Fprintf(app.IO.ErrOut, "%d events checked: %d error(s), %d warning(s)\n", len(ws.Events), errs, warns)
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
