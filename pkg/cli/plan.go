package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/state"
)

func newPlanCmd(app *App) *cobra.Command {
	var env string
	var detailed bool
	cmd := &cobra.Command{
		Use:   "plan --env NAME",
		Short: "Show what apply would change in an environment (desired vs live, per resource)",
		Long: `Exit codes: 0 no changes (or changes without --detailed-exitcode), 2 changes with
--detailed-exitcode, 1 error or blocked changes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json", "markdown"); err != nil {
				return err
			}
			run, err := app.preparePlan(cmd.Context(), env)
			if err != nil {
				return err
			}
			defer run.conn.Close()
			if err := app.renderPlan(app.IO.Out, run.plan, app.Globals.Output); err != nil {
				return err
			}
			switch {
			case run.plan.Blocked() || len(run.plan.Errors) > 0:
				return silent(ExitFailure)
			case detailed && run.plan.HasChanges():
				return silent(ExitChanges)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment in evctl.yaml (required)")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when there are changes")
	return cmd
}

type applyOptions struct {
	env          string
	events       []string
	retryFailed  bool
	allowDestroy bool
	autoApprove  bool
	parallelism  int
	rotate       []string
}

func newApplyCmd(app *App) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply --env NAME",
		Short: "Execute the plan in order and record every resource's status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			ctx := cmd.Context()
			run, err := app.preparePlan(ctx, o.env)
			if err != nil {
				return err
			}
			defer func() {
				if run != nil {
					run.conn.Close()
				}
			}()
			if len(o.rotate) > 0 {
				// Stage the new passwords, then plan again: the kafka_user sink sees them as
				// updates, sets them on the broker, and only then makes them the teams' own.
				for _, team := range o.rotate {
					if _, ok := run.ws.Project.Teams[team]; !ok {
						return &ExitError{Code: ExitFailure, Err: fmt.Errorf("apply: --rotate-credentials %s: not a team of evctl.yaml", team)}
					}
					if err := rotate(run.conn, team); err != nil {
						return &ExitError{Code: ExitFailure, Err: err}
					}
				}
				run.conn.Close()
				if run, err = app.preparePlan(ctx, o.env); err != nil {
					return err
				}
			}
			if !o.autoApprove {
				if !app.IO.InTTY {
					return &ExitError{Code: ExitFailure, Err: errors.New("apply: stdin is not a terminal; review `evctl plan` and pass --auto-approve")}
				}
				_ = app.renderPlan(app.IO.ErrOut, run.plan, "text")
				fmt.Fprint(app.IO.ErrOut, "\nApply these changes? Only 'yes' is accepted: ")
				line, _ := bufio.NewReader(app.IO.In).ReadString('\n')
				if strings.TrimSpace(line) != "yes" {
					return &ExitError{Code: ExitFailure, Err: errors.New("apply cancelled")}
				}
			}
			rep, err := apply.Run(ctx, run.conn.Registry, run.conn.State, run.plan, apply.Options{
				Env: o.env, Commit: gitCommit(run.ws.Root()), Who: app.who(), AllowDestroy: o.allowDestroy,
				RetryFailed: o.retryFailed, Events: o.events, Parallelism: o.parallelism, StaleLock: time.Hour,
				BreakDeadLock: true,
			})
			if rep != nil && rep.BrokeLock != nil {
				fmt.Fprintf(app.IO.ErrOut, "evctl: broke the lock of %s (since %s, lock id %s): that run is gone; this run finishes its work\n",
					rep.BrokeLock.Holder, rep.BrokeLock.Time.Format(time.RFC3339), rep.BrokeLock.ID)
			}
			if rep != nil {
				_ = app.renderApply(app.IO.Out, rep)
			}
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			if rep.Failed() {
				return silent(ExitFailure)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.env, "env", "", "environment in evctl.yaml (required)")
	cmd.Flags().StringArrayVar(&o.events, "event", nil, "only this event (domain/event); repeatable")
	cmd.Flags().BoolVar(&o.retryFailed, "retry-failed", false, "re-run only resources whose last status is failed, skipped or pending")
	cmd.Flags().BoolVar(&o.allowDestroy, "allow-destroy", false, "allow deleting or replacing resources that hold data")
	cmd.Flags().BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking")
	cmd.Flags().IntVar(&o.parallelism, "parallelism", 0, "1 applies one resource at a time (default: batched per kind)")
	cmd.Flags().StringArrayVar(&o.rotate, "rotate-credentials", nil, "generate a new Kafka password for this team; repeatable")
	return cmd
}

// rotate stages a new password for a team; the kafka_user resource sets it on apply and then
// promotes it (until then the team's current password keeps working).
func rotate(conn *envconn.Conn, team string) error {
	if _, err := conn.Credentials.Rotate(team); err != nil {
		return fmt.Errorf("rotate credentials of %s: %w", team, err)
	}
	return nil
}

func newStatusCmd(app *App) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "status --env NAME [event]",
		Short: "Per event, per resource: ok / failed / skipped / pending, last error, when, commit",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return &ExitError{Code: ExitFailure, Err: errors.New("--env is required")}
			}
			ws, err := app.Workspace()
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			store, err := envconn.OpenState(cmd.Context(), ws.Project, env)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			defer store.Close()
			st, _, err := state.Read(cmd.Context(), store, env)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			recs := make([]state.Record, 0, len(st.Resources))
			for _, r := range st.Resources {
				if len(args) == 1 && r.Event != args[0] && !strings.HasSuffix(r.Event, "/"+args[0]) {
					continue
				}
				recs = append(recs, r)
			}
			sort.Slice(recs, func(i, j int) bool {
				if recs[i].Event != recs[j].Event {
					return recs[i].Event < recs[j].Event
				}
				return recs[i].Key() < recs[j].Key()
			})
			if app.Globals.Output == "json" {
				return json.NewEncoder(app.IO.Out).Encode(map[string]any{"env": env, "resources": recs})
			}
			if len(recs) == 0 {
				fmt.Fprintf(app.IO.Out, "nothing recorded for %s yet; run `evctl apply --env %s`\n", env, env)
				return nil
			}
			for _, r := range recs {
				commit := r.Commit
				if len(commit) > 12 {
					commit = commit[:12]
				}
				fmt.Fprintf(app.IO.Out, "%-28s %-15s %-44s %-8s %s %s\n", r.Event, r.Kind, r.Name, r.Status, r.Time.Format(time.RFC3339), commit)
				if r.Error != "" {
					fmt.Fprintf(app.IO.Out, "    %s\n", r.Error)
				}
				if len(r.Facts) > 0 {
					fmt.Fprintf(app.IO.Out, "    %s\n", factsLine(r.Facts))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment in evctl.yaml (required)")
	return cmd
}
