package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/state"
)

// savePlan writes run's plan to out with the state generation and git commit it was computed
// against (`evctl plan --out FILE`).
func (a *App) savePlan(ctx context.Context, run *envplan.Run, env, out string, refresh plan.Refresh) error {
	_, gen, err := state.Read(ctx, run.Conn.State, env)
	if err != nil {
		return err
	}
	saved := plan.NewSaved(run.Plan, gen, gitCommit(run.Workspace.Root()), time.Now())
	saved.Refresh = refresh
	b, err := saved.Marshal()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(a.IO.WorkDir, out)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("plan: save: %w", err)
	}
	fmt.Fprintf(a.IO.ErrOut, "saved the plan to %s; `evctl apply %s` applies exactly it, or refuses if anything changed\n", out, filepath.Base(out))
	return nil
}

// readSavedPlan reads `evctl apply FILE`'s file and makes its environment the --env of the run
// (an explicit --env must name the same one). It runs before cobra checks required flags.
func (a *App) readSavedPlan(cmd *cobra.Command, path, env string) (*plan.Saved, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(a.IO.WorkDir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	s, err := plan.ReadSaved(b)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", filepath.Base(path), err)
	}
	if env != "" && env != s.Env {
		return nil, fmt.Errorf("apply: the saved plan is for environment %q, not %q", s.Env, env)
	}
	if err := cmd.Flags().Set("env", s.Env); err != nil {
		return nil, err
	}
	return s, nil
}

// checkSavedPlan refuses a saved plan that is no longer what applying would do: an apply ran
// since (the state generation moved), or the live systems or the repository changed (the plan
// computed now has other changes). Nothing is prompted: the saved plan was the review.
func checkSavedPlan(ctx context.Context, run *envplan.Run, saved *plan.Saved) error {
	_, gen, err := state.Read(ctx, run.Conn.State, saved.Env)
	if err != nil {
		return err
	}
	if gen != saved.StateGeneration {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("apply: the state of %q changed since the plan was saved (another apply ran); run `evctl plan --env %s --out FILE` again and review it", saved.Env, saved.Env)}
	}
	if plan.ChangesHash(run.Plan) != saved.ChangesHash {
		diffs := plan.Differences(saved.Plan, run.Plan, 5)
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("apply: the live systems or the repository changed since the plan was saved:\n  %s\nrun `evctl plan --env %s --out FILE` again and review it", strings.Join(diffs, "\n  "), saved.Env)}
	}
	return nil
}
