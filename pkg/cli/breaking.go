package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/breaking"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/envplan"
)

type breakingOptions struct {
	Against string
	Format  string
}

func newBreakingCmd(app *App) *cobra.Command {
	opts := &breakingOptions{}
	cmd := &cobra.Command{
		Use: "breaking --against <git-ref|FILE.binpb|env:NAME>",
		Example: `  # compare the working tree with main (what CI runs on a pull request)
  evctl breaking --against origin/main
  # compare with what is deployed in prod, as GitHub annotations
  evctl breaking --against env:prod --format github
  # compare with a descriptor set built earlier
  evctl breaking --against descriptors.binpb -o json`,
		Short: "Find breaking changes in prod-stage contracts and fields (buf's rules, WIRE_JSON by default)",
		Long: `Compare the contracts with a baseline: a git ref (the contracts at that commit, read from
git objects; the work tree is not touched), a FileDescriptorSet written by evctl build, or
env:NAME (that environment's descriptor store). Only prod events whose contract changed are
handed to buf; fields that were staging in the baseline change freely.
Exit 0 when nothing breaks (waived findings do not fail), 1 when something does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Format == "" {
				opts.Format = app.Globals.Output
			}
			return runBreaking(cmd.Context(), app, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Against, "against", "", "baseline: a git ref, a .binpb FileDescriptorSet, or env:NAME (required)")
	cmd.Flags().StringVar(&opts.Format, "format", "", "text, json or github (default: the -o value)")
	return cmd
}

func runBreaking(ctx context.Context, app *App, opts *breakingOptions) error {
	switch opts.Format {
	case "text", "json", "github":
	default:
		return fmt.Errorf("unknown format %q (text, json or github)", opts.Format)
	}
	if opts.Against == "" {
		return fmt.Errorf("breaking needs --against <git-ref|FILE.binpb|env:NAME>\nsee 'evctl breaking --help'")
	}
	// A whole-repository comparison (against a set or an environment) holds every event's
	// contract text and a chunk's descriptors: plan's soft memory limit keeps the garbage
	// between collections from taking the 10,000-event run over 1 GB.
	defer envplan.TuneGC(app.IO.Getenv)()
	ws, base, err := app.openBreaking(ctx, opts.Against)
	if err != nil {
		return err
	}
	defer base.Close()
	rep, err := breaking.Check(ctx, breaking.Current{Workspace: ws}, base, breaking.Options{Getenv: app.IO.Getenv})
	if err != nil {
		return err
	}
	if err := app.renderBreaking(app.IO.Out, rep, opts.Format); err != nil {
		return err
	}
	if opts.Format == "text" {
		s := rep.Summary()
		if rep.BufMissing != "" {
			fmt.Fprintf(app.IO.ErrOut, "buf is not installed, so changed prod contracts are blocked: %s\n", rep.BufMissing)
		}
		what := fmt.Sprintf("%d events", s.Events)
		if base.Scope() != nil {
			what = fmt.Sprintf("%d changed event file(s)", s.Events) // git named the rest unchanged
		}
		fmt.Fprintf(app.IO.ErrOut, "%s against %s, %d changed prod event(s) checked: %d breaking change(s), %d waived, %d warning(s)\n",
			what, rep.Baseline, s.Checked, s.Breaking, s.Waived, s.Warnings)
	}
	if rep.Failed() {
		return silent(ExitFailure)
	}
	return nil
}

// openBreaking loads the repository and resolves --against: env:NAME, an existing
// descriptor-set file, else a git ref. Against a git ref only the files git says changed are
// loaded on both sides.
func (a *App) openBreaking(ctx context.Context, against string) (*workspace.Workspace, *breaking.Baseline, error) {
	fail := func(err error) (*workspace.Workspace, *breaking.Baseline, error) {
		return nil, nil, err
	}
	cfg, err := config.Find(a.Globals.Config, a.IO.WorkDir)
	if err != nil {
		return fail(err)
	}
	var base *breaking.Baseline
	file := against
	if !filepath.IsAbs(file) {
		file = filepath.Join(a.IO.WorkDir, file)
	}
	st, statErr := os.Stat(file)
	switch {
	case strings.HasPrefix(against, "env:"):
	case statErr == nil && !st.IsDir():
		base, err = breaking.FromFile(file)
	case strings.HasSuffix(against, ".binpb") || strings.HasSuffix(against, ".pb"):
		err = fmt.Errorf("breaking: baseline file %s does not exist", against)
	default:
		base, err = breaking.FromGit(ctx, filepath.Dir(cfg), against)
	}
	if err != nil {
		return fail(err)
	}
	var scope []string
	if base != nil {
		scope = base.Scope()
	}
	ws, err := breaking.LoadWorkspace(cfg, "", scope)
	if err != nil {
		base.Close()
		return fail(err)
	}
	// A contract that does not even load would be missing from the comparison: fail closed.
	if err := a.failOnDiags(ws.Diags); err != nil {
		base.Close()
		return nil, nil, err
	}
	if env, ok := strings.CutPrefix(against, "env:"); ok {
		if base, err = breaking.FromEnv(ctx, ws.Project, env); err != nil {
			return fail(err)
		}
	}
	return ws, base, nil
}

// breakingJSON is the stable JSON shape of `evctl breaking -o json`.
type breakingJSON struct {
	Baseline   string             `json:"baseline"`
	Findings   []breaking.Finding `json:"findings"`
	Summary    breaking.Summary   `json:"summary"`
	BufMissing string             `json:"buf_missing,omitempty"`
}

func (a *App) renderBreaking(w io.Writer, rep *breaking.Report, format string) error {
	switch format {
	case "json":
		v := breakingJSON{Baseline: rep.Baseline, Findings: rep.Findings(), Summary: rep.Summary(), BufMissing: rep.BufMissing}
		if v.Findings == nil {
			v.Findings = []breaking.Finding{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "github":
		for _, f := range rep.Findings() {
			level := "error"
			switch {
			case f.Severity == diag.Warning:
				level = "warning"
			case f.Waived:
				level = "notice"
			}
			fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", level, f.File, max(f.Line, 1), max(f.Column, 1), f.Rule,
				ghEscape(fmt.Sprintf("%s%s: %s\nfix: %s", f.Event, breakingFieldSuffix(f.Field), f.Message, f.Hint)))
		}
		return nil
	}
	for _, e := range rep.Events {
		if len(e.Findings) == 0 {
			continue
		}
		head := a.IO.paint("1", e.Event)
		if e.Blocked {
			head += ": " + a.IO.paint("31", "breaking")
		}
		fmt.Fprintf(w, "%s (%s against %s)\n", head, e.Status, rep.Baseline)
		for _, f := range e.Findings {
			label := a.IO.paint("31", "error")
			switch {
			case f.Severity == diag.Warning:
				label = a.IO.paint("33", "warning")
			case f.Waived:
				label = a.IO.paint("32", "waived")
			}
			fmt.Fprintf(w, "  %s: %s %s%s: %s\n", f.Pos(), label, f.Rule, breakingFieldSuffix(f.Field), f.Message)
			fmt.Fprintf(w, "    fix: %s\n", f.Hint)
		}
	}
	return nil
}

func breakingFieldSuffix(field string) string {
	if field == "" {
		return ""
	}
	return " (field " + field + ")"
}
