package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/schema"
)

// newSchemaCmd prints the JSON Schema of one of evctl's YAML files. The schema is JSON whatever
// -o says (text and json print the same document).
func newSchemaCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "schema <" + strings.Join(schema.Kinds, "|") + ">",
		Short: "Print the JSON Schema of evctl.yaml, an event contract or a consumer, for editors",
		Long: `Print a JSON Schema (draft 2020-12) that editors use to complete and check evctl's YAML files:
  evctl-yaml  evctl.yaml
  event       contracts/<domain>/<event>.yaml
  consumer    consumers/<name>.yaml

With the YAML language server (VS Code's YAML extension), save the schema in the repository and
point a file at it with a modeline, or map globs to it in .vscode/settings.json ("yaml.schemas").
evctl lint stays the authority: the schema checks shape, lint checks meaning.`,
		Example: `  evctl schema evctl-yaml > schemas/evctl-yaml.json
  evctl schema event > schemas/event.json
  # at the top of contracts/feed/video_played.yaml:
  # yaml-language-server: $schema=../../schemas/event.json`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: schema.Kinds,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := schema.For(args[0])
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), string(b))
			return err
		},
	}
}
