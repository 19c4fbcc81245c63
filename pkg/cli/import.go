package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/adopt"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
)

// importResult is `evctl import`'s output.
type importResult struct{ *adopt.Result }

// Human implements humanView.
func (r importResult) Human(w io.Writer, a *App) {
	fmt.Fprintf(w, "%s %s (%s) in %s\n", r.Kind, r.Name, r.Event, r.Env)
	if len(r.Diff) == 0 {
		fmt.Fprintln(w, "  live matches the contract")
	}
	for _, d := range r.Diff {
		fmt.Fprintf(w, "  %s ~ %s: %q -> %q\n", a.symbol(sink.Update), d.Path, d.From, d.To)
	}
	next := fmt.Sprintf("the next plan: %s", r.Next)
	if r.Reason != "" {
		next += " (" + r.Reason + ")"
	}
	switch {
	case r.Already:
		fmt.Fprintf(w, "already owned by this repository's state; nothing recorded; %s\n", next)
	case r.DryRun:
		fmt.Fprintf(w, "dry run: nothing recorded; after the import %s\n", next)
	default:
		fmt.Fprintf(w, "imported: recorded in the state of %s as owned; %s\n", r.Env, next)
	}
}

func newImportCmd(app *App) *cobra.Command {
	var env, event string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import --env NAME KIND NAME --event DOMAIN/EVENT [--dry-run]",
		Short: "Adopt an existing resource (topic, ACL, table) into the state after showing its diff against the contract",
		Long: `import records a resource that exists live but was not created by this repository's evctl
(made by hand, by another tool) as owned in the environment's state, so the next plan updates
it to match its contract, or finds nothing to do, instead of blocking it. It first shows the
live resource's diff against the contract and the action the next plan will propose. Nothing
live is changed; --dry-run records nothing either.`,
		Example: `  evctl import --env prod kafka_topic prod.feed.video_played.v1 --event feed/video_played --dry-run
  evctl import --env prod kafka_topic prod.feed.video_played.v1 --event feed/video_played
  evctl import --env prod bigquery_table feed__video_played_v1 --event feed/video_played -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			if event == "" {
				return fmt.Errorf("import: --event is required (the event whose contract wants %s)", args[1])
			}
			if err := app.knownEvent(event); err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			// The planner's cached preparation reading every resource: the plan of the whole
			// pipeline (envplan.Prepare, TestCachedPlanEqualsFull), which held every event's
			// compiled descriptors at once (5 GB on 10,000 events).
			run, err := app.prepareCached(cmd.Context(), env, plan.RefreshFull)
			if err != nil {
				return err
			}
			defer run.Close()
			res, err := adopt.Import(cmd.Context(), run, adopt.Request{
				Kind: args[0], Name: args[1], Event: event, DryRun: dryRun,
				Who: app.who(), Commit: gitCommit(run.Workspace.Root()),
			})
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			return app.render(importResult{res})
		},
	}
	envFlag(cmd, &env, "environment in evctl.yaml")
	cmd.Flags().StringVar(&event, "event", "", "the event (domain/event) whose contract wants the resource (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the diff and the next action only; record nothing")
	return cmd
}

// knownEvent checks that id names an event file of the repository,
// contracts/<domain>/<event>.yaml (or .yml), before the environment is planned: the cached plan
// does not load the events themselves.
func (a *App) knownEvent(id string) error {
	cfg, err := config.Find(a.Globals.Config, a.IO.WorkDir)
	if err != nil {
		return err
	}
	if strings.Count(id, "/") == 1 && filepath.IsLocal(id) {
		for _, ext := range []string{".yaml", ".yml"} {
			if st, err := os.Stat(filepath.Join(filepath.Dir(cfg), contract.Dir, filepath.FromSlash(id)+ext)); err == nil && st.Mode().IsRegular() {
				return nil
			}
		}
	}
	return fmt.Errorf("import: no event %q in this repository (use <domain>/<event>)", id)
}
