package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/plan"
)

func newPlanCmd(app *App) *cobra.Command {
	var env, out, refresh string
	var detailed bool
	cmd := &cobra.Command{
		Use: "plan --env NAME [--out FILE]",
		Example: `  evctl plan --env staging
  # save the plan for review; evctl apply plan.evplan applies exactly it
  evctl plan --env prod --out plan.evplan
  # a pull request comment
  evctl plan --env prod -o markdown
  # exit 2 when there are changes (scripts)
  evctl plan --env prod --detailed-exitcode`,
		Short: "Show what apply would change in an environment (desired vs live, per resource)",
		Long: `Exit codes: 0 no changes (or changes without --detailed-exitcode), 2 changes with
--detailed-exitcode, 1 error or blocked changes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json", "markdown"); err != nil {
				return err
			}
			r, err := plan.ParseRefresh(refresh)
			if err != nil {
				return err
			}
			if out != "" && !cmd.Flags().Changed("refresh") {
				// A saved plan is what apply will do: it reads everything, as Terraform's
				// `plan -out` refreshes, unless --refresh says otherwise.
				r = plan.RefreshFull
			}
			defer envplan.TuneGC(app.IO.Getenv)()
			run, err := app.prepareCached(cmd.Context(), env, r)
			if err != nil {
				return err
			}
			defer run.Close()
			if err := app.renderPlan(app.IO.Out, run.Plan, app.Globals.Output); err != nil {
				return err
			}
			if out != "" {
				if err := app.savePlan(cmd.Context(), run, env, out, r); err != nil {
					return err
				}
			}
			switch {
			case run.Plan.Blocked() || len(run.Plan.Errors) > 0:
				return silent(ExitFailure)
			case detailed && run.Plan.HasChanges():
				return silent(ExitChanges)
			}
			return nil
		},
	}
	envFlag(cmd, &env, "environment in evctl.yaml")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when there are changes")
	cmd.Flags().StringVar(&out, "out", "", "also save the plan to FILE, for `evctl apply FILE`")
	refreshFlag(cmd, &refresh, plan.RefreshFast)
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
	refresh      string
}

func newApplyCmd(app *App) *cobra.Command {
	o := &applyOptions{}
	var saved *plan.Saved
	cmd := &cobra.Command{
		Use: "apply --env NAME | apply PLANFILE",
		Example: `  evctl apply --env staging
  # apply a reviewed plan (no prompt; refuses when state or live systems changed since)
  evctl apply plan.evplan
  evctl apply --env prod --event feed/video_played --auto-approve
  evctl apply --env prod --rotate-credentials growth`,
		Short: "Execute the plan in order and record every resource's status",
		Long: `With a file saved by ` + "`evctl plan --out FILE`" + `, apply that plan exactly, without asking:
it is refused (exit 1) if the state or the live systems changed since it was saved.`,
		Args: cobra.MaximumNArgs(1),
		PreRunE: func(cmd *cobra.Command, args []string) (err error) {
			if len(args) == 1 {
				if len(o.events) > 0 || o.retryFailed || len(o.rotate) > 0 {
					return errors.New("apply: a saved plan is applied whole; --event, --retry-failed and --rotate-credentials work only with --env")
				}
				saved, err = app.readSavedPlan(cmd, args[0], o.env)
			}
			return err
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			ctx := cmd.Context()
			refresh, err := plan.ParseRefresh(o.refresh)
			if err != nil {
				return err
			}
			if saved != nil && saved.Refresh != "" {
				refresh = saved.Refresh // checked against a plan made the way it was
			}
			defer envplan.TuneGC(app.IO.Getenv)()
			run, err := app.prepareCached(ctx, o.env, refresh)
			if err != nil {
				return err
			}
			defer func() {
				if run != nil {
					run.Close()
				}
			}()
			if saved != nil {
				if err := checkSavedPlan(ctx, run, saved); err != nil {
					return err
				}
				o.autoApprove = true // the saved plan is what was reviewed
			}
			if len(o.rotate) > 0 {
				// Stage the new passwords, then plan again: the kafka_user sink sees them as
				// updates, sets them on the broker, and only then makes them the teams' own.
				for _, team := range o.rotate {
					if _, ok := run.Workspace.Project.Teams[team]; !ok {
						return fmt.Errorf("apply: --rotate-credentials %s: not a team of evctl.yaml", team)
					}
					if err := rotate(run.Conn, team); err != nil {
						return err
					}
				}
				run.Close()
				if run, err = app.prepareCached(ctx, o.env, refresh); err != nil {
					return err
				}
			}
			if !o.autoApprove {
				if !app.IO.InTTY {
					return errors.New("apply: stdin is not a terminal; review `evctl plan` and pass --auto-approve")
				}
				_ = app.renderPlan(app.IO.ErrOut, run.Plan, "text")
				fmt.Fprint(app.IO.ErrOut, "\nApply these changes? Only 'yes' is accepted: ")
				line, _ := bufio.NewReader(app.IO.In).ReadString('\n')
				if strings.TrimSpace(line) != "yes" {
					return errors.New("apply cancelled")
				}
			}
			rep, err := apply.Run(ctx, run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{
				Env: o.env, Commit: gitCommit(run.Workspace.Root()), Who: app.who(), AllowDestroy: o.allowDestroy,
				RetryFailed: o.retryFailed, Events: o.events, Parallelism: o.parallelism, StaleLock: time.Hour,
				BreakDeadLock: true, AfterEach: app.crashHook(),
			})
			if rep != nil && rep.BrokeLock != nil {
				fmt.Fprintf(app.IO.ErrOut, "evctl: broke the lock of %s (since %s, lock id %s): that run is gone; this run finishes its work\n",
					rep.BrokeLock.Holder, rep.BrokeLock.Time.Format(time.RFC3339), rep.BrokeLock.ID)
			}
			if rep != nil {
				_ = app.renderApply(app.IO.Out, rep)
			}
			if err != nil {
				return err
			}
			if rep.Failed() {
				return silent(ExitFailure)
			}
			return nil
		},
	}
	envFlag(cmd, &o.env, "environment in evctl.yaml")
	cmd.Flags().StringArrayVar(&o.events, "event", nil, "only this event (domain/event); repeatable")
	cmd.Flags().BoolVar(&o.retryFailed, "retry-failed", false, "re-run only resources whose last status is failed, skipped or pending")
	cmd.Flags().BoolVar(&o.allowDestroy, "allow-destroy", false, "allow deleting or replacing resources that hold data")
	cmd.Flags().BoolVar(&o.autoApprove, "auto-approve", false, "apply without asking")
	cmd.Flags().IntVar(&o.parallelism, "parallelism", 0, "1 applies one resource at a time (default: batched per kind)")
	cmd.Flags().StringArrayVar(&o.rotate, "rotate-credentials", nil, "generate a new Kafka password for this team; repeatable")
	refreshFlag(cmd, &o.refresh, plan.RefreshFull)
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

// crashHook is the test hook of the crash tests: EVCTL_TEST_CRASH_AFTER=N exits the process
// with code 3 after N resources have been applied (one at a time), to prove that a killed apply
// converges on the next run. nil (no hook) when the variable is unset.
func (a *App) crashHook() func(int) {
	n, _ := strconv.Atoi(a.IO.Getenv("EVCTL_TEST_CRASH_AFTER"))
	if n <= 0 {
		return nil
	}
	return func(applied int) {
		if applied >= n {
			fmt.Fprintf(a.IO.ErrOut, "evctl: EVCTL_TEST_CRASH_AFTER=%d reached; exiting\n", n)
			os.Exit(3)
		}
	}
}
