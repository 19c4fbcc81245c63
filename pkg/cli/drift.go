package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/plan"
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
		Use: "drift --env NAME",
		Example: `  evctl drift --env prod
  evctl drift --env staging -o json`,
		Short: "What live differs from the repo and from the last apply; exit 2 on drift",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			run, err := app.prepareCached(cmd.Context(), env, plan.RefreshFull)
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
