package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

func newDriftCmd(app *App) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "drift --env NAME",
		Short: "What live differs from the repo and from the last apply; exit 2 on drift",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			run, err := app.preparePlan(cmd.Context(), env)
			if err != nil {
				return err
			}
			defer run.conn.Close()
			p := run.plan
			if app.Globals.Output == "json" {
				if err := json.NewEncoder(app.IO.Out).Encode(map[string]any{"env": env, "drift": p.Drift, "unmanaged": p.Unmanaged, "errors": p.Errors}); err != nil {
					return err
				}
			} else {
				for _, d := range p.Drift {
					fmt.Fprintf(app.IO.Out, "drift      %-15s %s (%s): %s\n", d.Kind, d.Name, d.Event, d.Message)
				}
				for _, u := range p.Unmanaged {
					fmt.Fprintf(app.IO.Out, "unmanaged  %-15s %s\n", u.Kind, u.Name)
				}
				for _, e := range p.Errors {
					fmt.Fprintf(app.IO.Out, "error      %s\n", e)
				}
				if len(p.Drift)+len(p.Unmanaged) == 0 {
					fmt.Fprintf(app.IO.Out, "no drift in %s\n", env)
				}
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
	cmd.Flags().StringVar(&env, "env", "", "environment in evctl.yaml (required)")
	return cmd
}

func newUnlockCmd(app *App) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "unlock --env NAME",
		Short: "Remove a stale apply lock (only when no apply is running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := app.stateStore(cmd, env)
			if err != nil {
				return err
			}
			defer store.Close()
			info, err := state.ForceUnlock(cmd.Context(), store, env)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			if info == nil {
				fmt.Fprintf(app.IO.Out, "%s was not locked\n", env)
				return nil
			}
			fmt.Fprintf(app.IO.Out, "removed the lock of %s held by %s since %s\n", env, info.Holder, info.Time.Format("2006-01-02T15:04:05Z07:00"))
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment in evctl.yaml (required)")
	return cmd
}

func newStateCmd(app *App) *cobra.Command {
	root := &cobra.Command{Use: "state", Short: "Maintain the state store"}
	var env string
	repair := &cobra.Command{
		Use:   "repair --env NAME",
		Short: "Move a corrupt resources.json aside and start an empty one (the next plan re-reads live)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := app.stateStore(cmd, env)
			if err != nil {
				return err
			}
			defer store.Close()
			moved, err := state.Repair(cmd.Context(), store, env)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			if moved == "" {
				fmt.Fprintf(app.IO.Out, "the state of %s is healthy; nothing to repair\n", env)
				return nil
			}
			fmt.Fprintf(app.IO.Out, "moved the corrupt state to %s; resources evctl created are now unowned until re-applied (evctl plan shows them as blocked: adopt by deleting or re-creating them)\n", moved)
			return nil
		},
	}
	repair.Flags().StringVar(&env, "env", "", "environment in evctl.yaml (required)")
	root.AddCommand(repair)
	return root
}

func (a *App) stateStore(cmd *cobra.Command, env string) (blob.Store, error) {
	if env == "" {
		return nil, &ExitError{Code: ExitFailure, Err: errors.New("--env is required")}
	}
	ws, err := a.Workspace()
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	s, err := envconn.OpenState(cmd.Context(), ws.Project, env)
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	return s, nil
}
