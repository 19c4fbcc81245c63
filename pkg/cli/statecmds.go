package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

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
		Use: "unlock --env NAME",
		Example: `  # release the state lock a killed apply left behind
  evctl unlock --env prod`,
		Short: "Remove a stale apply lock (only when no apply is running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.onState(cmd, env, func(ctx context.Context, store blob.Store) (humanView, error) {
				info, err := state.ForceUnlock(ctx, store, env)
				return &unlockResult{Env: env, Removed: info}, err
			})
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
		Use:     "repair --env NAME",
		Example: `  evctl state repair --env prod`,
		Short:   "Move a corrupt resources.json aside and start an empty one (the next plan re-reads live)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.onState(cmd, env, func(ctx context.Context, store blob.Store) (humanView, error) {
				moved, err := state.Repair(ctx, store, env)
				return &repairResult{Env: env, MovedTo: moved}, err
			})
		},
	}
	envFlag(repair, &env, "environment in evctl.yaml")
	root.AddCommand(repair)
	return root
}

// onState runs a command that needs env's state store alone (unlock, state repair) and renders
// its result.
func (a *App) onState(cmd *cobra.Command, env string, run func(context.Context, blob.Store) (humanView, error)) error {
	if err := a.checkOutput("text", "json"); err != nil {
		return err
	}
	ws, err := a.Workspace()
	if err != nil {
		return err
	}
	store, err := envconn.OpenState(cmd.Context(), ws.Project, env)
	if err != nil {
		return err
	}
	defer store.Close()
	v, err := run(cmd.Context(), store)
	if err != nil {
		return err
	}
	return a.render(v)
}
