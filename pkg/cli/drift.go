package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// driftResult is `evctl drift`: what live differs from the repo and the last apply.
type driftResult struct {
	Env       string           `json:"env"`
	Drift     []plan.Drift     `json:"drift"`
	Unmanaged []plan.Unmanaged `json:"unmanaged"`
	Errors    []string         `json:"errors"`
}

// Human implements humanView.
func (r *driftResult) Human(w io.Writer, _ *App) {
	for _, d := range r.Drift {
		fmt.Fprintf(w, "drift      %-15s %s (%s): %s\n", d.Kind, d.Name, d.Event, d.Message)
	}
	for _, u := range r.Unmanaged {
		fmt.Fprintf(w, "unmanaged  %-15s %s\n", u.Kind, u.Name)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error      %s\n", e)
	}
	if len(r.Drift)+len(r.Unmanaged) == 0 {
		fmt.Fprintf(w, "no drift in %s\n", r.Env)
	}
}

func newDriftCmd(app *App) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "drift --env NAME",
		Short: "What live differs from the repo and from the last apply; exit 2 on drift",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			run, err := app.preparePlan(cmd.Context(), env)
			if err != nil {
				return err
			}
			defer run.Close()
			p := run.Plan
			res := &driftResult{Env: env, Drift: p.Drift, Unmanaged: p.Unmanaged, Errors: p.Errors}
			if err := app.render(res); err != nil {
				return err
			}
			switch {
			case len(p.Errors) > 0:
				return silent(ExitFailure)
			case len(p.Drift)+len(p.Unmanaged) > 0:
				return silent(ExitChanges)
			}
			return nil
		},
	}
	envFlag(cmd, &env, "environment in evctl.yaml")
	return cmd
}

// unlockResult is `evctl unlock`: the lock removed, or none.
type unlockResult struct {
	Env     string          `json:"env"`
	Removed *state.LockInfo `json:"removed"`
}

// Human implements humanView.
func (r *unlockResult) Human(w io.Writer, _ *App) {
	if r.Removed == nil {
		fmt.Fprintf(w, "%s was not locked\n", r.Env)
		return
	}
	fmt.Fprintf(w, "removed the lock of %s held by %s since %s\n", r.Env, r.Removed.Holder, r.Removed.Time.Format(time.RFC3339))
}

func newUnlockCmd(app *App) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "unlock --env NAME",
		Short: "Remove a stale apply lock (only when no apply is running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			store, err := app.stateStore(cmd, env)
			if err != nil {
				return err
			}
			defer store.Close()
			info, err := state.ForceUnlock(cmd.Context(), store, env)
			if err != nil {
				return err
			}
			return app.render(&unlockResult{Env: env, Removed: info})
		},
	}
	envFlag(cmd, &env, "environment in evctl.yaml")
	return cmd
}

// repairResult is `evctl state repair`: where the corrupt state went, or "" when it was healthy.
type repairResult struct {
	Env     string `json:"env"`
	MovedTo string `json:"moved_to"`
}

// Human implements humanView.
func (r *repairResult) Human(w io.Writer, _ *App) {
	if r.MovedTo == "" {
		fmt.Fprintf(w, "the state of %s is healthy; nothing to repair\n", r.Env)
		return
	}
	fmt.Fprintf(w, "moved the corrupt state to %s; resources evctl created are now unowned until re-applied (evctl plan shows them as blocked: adopt by deleting or re-creating them)\n", r.MovedTo)
}

func newStateCmd(app *App) *cobra.Command {
	root := &cobra.Command{Use: "state", Short: "Maintain the state store"}
	var env string
	repair := &cobra.Command{
		Use:   "repair --env NAME",
		Short: "Move a corrupt resources.json aside and start an empty one (the next plan re-reads live)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			store, err := app.stateStore(cmd, env)
			if err != nil {
				return err
			}
			defer store.Close()
			moved, err := state.Repair(cmd.Context(), store, env)
			if err != nil {
				return err
			}
			return app.render(&repairResult{Env: env, MovedTo: moved})
		},
	}
	envFlag(repair, &env, "environment in evctl.yaml")
	root.AddCommand(repair)
	return root
}

// stateStore opens env's state store.
func (a *App) stateStore(cmd *cobra.Command, env string) (blob.Store, error) {
	ws, err := a.Workspace()
	if err != nil {
		return nil, err
	}
	return envconn.OpenState(cmd.Context(), ws.Project, env)
}
