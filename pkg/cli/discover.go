package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/codeowners"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/protogen"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/discovery/discover"
)

func newListCmd(app *App) *cobra.Command {
	var f discover.Filter
	cmd := &cobra.Command{
		Use: "list [--owner T] [--pod P] [--stage S] [--domain D]",
		Example: `  evctl list
  evctl list --owner growth --stage prod
  evctl list --domain payments -o json`,
		Short: "List events with their owners, stages and sinks, and the consumers (consumers/*.yaml)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := app.Workspace()
			if err != nil {
				return err
			}
			return app.renderList(discover.List(ws.Events, f), discover.ListConsumers(ws.Consumers, ws.Events, f))
		},
	}
	cmd.Flags().StringVar(&f.Owner, "owner", "", "owning team")
	cmd.Flags().StringVar(&f.Pod, "pod", "", "owning pod")
	cmd.Flags().StringVar(&f.Stage, "stage", "", "staging or prod")
	cmd.Flags().StringVar(&f.Domain, "domain", "", "domain")
	return cmd
}

func newSearchCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use: "search <text>",
		Example: `  evctl search video
  evctl search "user_id" -o json`,
		Short: "Find events by name, description, field names and field descriptions, best first",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := app.Workspace()
			if err != nil {
				return err
			}
			res := discover.Search(ws.Events, strings.Join(args, " "))
			if err := app.renderSummaries(res, true); err != nil {
				return err
			}
			if len(res) == 0 {
				return silent(ExitFailure)
			}
			return nil
		},
	}
}

func (a *App) renderSummaries(ss []discover.Summary, scored bool) error {
	if a.Globals.Output == "json" {
		enc := json.NewEncoder(a.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"events": ss})
	}
	if len(ss) == 0 {
		fmt.Fprintln(a.IO.ErrOut, "no events match")
		return nil
	}
	for _, s := range ss {
		desc := s.Description
		if i := strings.IndexByte(desc, '\n'); i >= 0 {
			desc = desc[:i]
		}
		if len(desc) > 60 {
			desc = desc[:57] + "..."
		}
		fmt.Fprintf(a.IO.Out, "%-38s %-10s %-14s %-7s %-20s %s\n", s.Event, s.Team, s.Pod, s.Stage, strings.Join(s.Sinks, ","), desc)
	}
	return nil
}

func newCodeownersCmd(app *App) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use: "codeowners",
		Example: `  evctl codeowners
  # in CI: fail when .github/CODEOWNERS is out of date
  evctl codeowners --check`,
		Short: "Write .github/CODEOWNERS from the events' owners (contract YAML, raw proto, gen/ file)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := app.Workspace()
			if err != nil {
				return err
			}
			want := codeowners.Render(ws.Project, ws.Events, func(ev *contract.Event) string {
				return workspace.GenDir + "/" + protogen.FilePath(ev.Domain, ev.Name)
			})
			path := filepath.Join(ws.Root(), ".github", "CODEOWNERS")
			if check {
				have, _ := os.ReadFile(path)
				if string(have) != want {
					return fmt.Errorf(".github/CODEOWNERS is out of date; run `evctl codeowners`")
				}
				return nil
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(app.IO.Out, "wrote .github/CODEOWNERS (%d events)\n", len(ws.Events))
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "exit 1 if .github/CODEOWNERS is out of date, without writing")
	return cmd
}
