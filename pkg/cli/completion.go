package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// completeEvents completes the first argument with the repository's event IDs
// ("feed/video_played"), for every command that takes an event: describe, tail, export, promote.
// Cobra's own `completion` command prints the shell scripts that call it. Outside a contracts
// repository it completes nothing, silently: completion must never print errors.
func completeEvents(app *App) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ws, err := app.Workspace()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, ev := range ws.Events {
			id := ev.ID()
			if strings.HasPrefix(id, toComplete) || strings.HasPrefix(ev.Name, toComplete) {
				desc := strings.TrimSpace(ev.Description)
				if i := strings.IndexByte(desc, '\n'); i >= 0 {
					desc = desc[:i]
				}
				out = append(out, id+"\t"+desc)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
