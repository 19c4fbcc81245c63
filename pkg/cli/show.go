package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/plan"
)

// newShowCmd is `evctl show PLANFILE`: a saved plan rendered as text, JSON or the PR comment's
// markdown, without connecting to anything (as `terraform show FILE`). CI renders the comment
// from the very plan it saves, so what reviewers read is what `evctl apply FILE` applies.
func newShowCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use: "show PLANFILE",
		Example: `  evctl plan --env prod --out plan.evplan
  evctl show plan.evplan
  # the pull request comment
  evctl show plan.evplan -o markdown`,
		Short: "Print a plan saved by `evctl plan --out FILE` (text, json or markdown)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if !filepath.IsAbs(path) {
				path = filepath.Join(app.IO.WorkDir, path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("show: %w", err)
			}
			s, err := plan.ReadSaved(b)
			if err != nil {
				return fmt.Errorf("show %s: %w", filepath.Base(path), err)
			}
			return app.renderPlan(app.IO.Out, s.Plan, app.Globals.Output)
		},
	}
}
