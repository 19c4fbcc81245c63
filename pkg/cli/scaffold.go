package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/scaffold"
)

func newInitCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use: "init [dir]",
		Example: `  evctl init
  evctl init acme-contracts`,
		Short: "Scaffold evctl.yaml, contracts/, a GitHub workflow and a pre-commit config",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := app.IO.WorkDir
			if len(args) == 1 {
				dir = args[0]
				if !filepath.IsAbs(dir) {
					dir = filepath.Join(app.IO.WorkDir, dir)
				}
			}
			written, skipped, err := scaffold.Init(dir)
			if err != nil {
				return err
			}
			if app.Globals.Output == "json" {
				return json.NewEncoder(app.IO.Out).Encode(map[string][]string{"written": nonNil(written), "skipped": nonNil(skipped)})
			}
			for _, f := range written {
				fmt.Fprintf(app.IO.Out, "wrote   %s\n", f)
			}
			for _, f := range skipped {
				fmt.Fprintf(app.IO.Out, "skipped %s (exists)\n", f)
			}
			fmt.Fprintln(app.IO.ErrOut, "next: edit evctl.yaml's teams, then `evctl new <domain>/<event> --owner team/pod --field name:type`")
			return nil
		},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func newNewCmd(app *App) *cobra.Command {
	var owner string
	var fields []string
	cmd := &cobra.Command{
		Use: "new <domain>/<event> --owner team/pod [--field name:type[:mode]]...",
		Example: `  evctl new feed/video_played --owner growth/feed
  evctl new feed/video_played --owner growth/feed --field video_id:string:required --field watch_ms:int64`,
		Short: "Scaffold an event contract with its fields numbered",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			domain, name, ok := strings.Cut(args[0], "/")
			if !ok {
				return fmt.Errorf("new: want <domain>/<event>, got %q", args[0])
			}
			team, pod, _ := strings.Cut(owner, "/")
			if team == "" {
				return fmt.Errorf("new: --owner team/pod is required")
			}
			ws, err := app.Workspace()
			if err != nil {
				return err
			}
			t, ok := ws.Project.Teams[team]
			if !ok {
				return fmt.Errorf("new: team %q is not in evctl.yaml", team)
			}
			if pod != "" && !containsStr(t.Pods, pod) {
				return fmt.Errorf("new: pod %q is not a pod of team %q (pods: %s)", pod, team, strings.Join(t.Pods, ", "))
			}
			if ev := ws.Event(name); ev != nil && ev.Name == name {
				return fmt.Errorf("new: event %q already exists in %s", name, ev.File)
			}
			rel, err := scaffold.Event(ws.Root(), scaffold.NewEvent{Domain: domain, Name: name, Team: team, Pod: pod, Fields: fields})
			if err != nil {
				return err
			}
			if app.Globals.Output == "json" {
				return json.NewEncoder(app.IO.Out).Encode(map[string]string{"file": rel, "event": domain + "/" + name})
			}
			fmt.Fprintf(app.IO.Out, "wrote %s\n", rel)
			fmt.Fprintln(app.IO.ErrOut, "next: fill in the description, then `evctl generate && evctl lint`")
			return nil
		},
	}
	cmd.Flags().StringVar(&owner, "owner", "", "owning team/pod (required)")
	cmd.Flags().StringArrayVar(&fields, "field", nil, "a field name:type[:mode]; repeat for more (numbered in order)")
	return cmd
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
