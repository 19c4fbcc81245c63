package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// outputFormats is every -o value cmd renders. A command not named here renders text and json.
// Kept in one table so `-o xml` fails the same way everywhere, before any work is done.
func outputFormats(cmd *cobra.Command) []string {
	switch cmd.CommandPath() {
	case "evctl plan", "evctl show":
		return []string{"text", "json", "markdown"}
	case "evctl lint", "evctl breaking":
		return []string{"text", "json", "github"}
	}
	return []string{"text", "json"}
}

// checkOutputFlag rejects an -o value cmd cannot render (exit 1, naming the ones it can). A
// command whose own -o is something else (build's -o FILE) shadows the global flag and checks
// its value itself.
func checkOutputFlag(cmd *cobra.Command, app *App) error {
	if cmd.LocalNonPersistentFlags().Lookup("output") != nil {
		return nil
	}
	formats := outputFormats(cmd)
	if slices.Contains(formats, app.Globals.Output) {
		return nil
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s: -o %q is not an output format of this command (use -o %s)",
		cmd.CommandPath(), app.Globals.Output, strings.Join(formats, "|"))}
}

// buildOutputIsFile rejects a build -o that names an output format: `evctl build -o json` would
// otherwise write the descriptor set to a file called json, which nobody means.
func buildOutputIsFile(out string) error {
	switch out {
	case "text", "json", "markdown", "github", "yaml", "xml":
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("build: -o is the file to write the descriptor set to, not an output format; use -o FILE (e.g. -o descriptors.binpb), -o - for stdout, or -o ./%s for a file named %s", out, out)}
	}
	return nil
}
