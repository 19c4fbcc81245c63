package cli

import "github.com/spf13/cobra"

// envFlag adds the required --env flag: cobra refuses a run without it (exit 1, before RunE),
// so no command checks it by hand.
func envFlag(cmd *cobra.Command, p *string, usage string) {
	cmd.Flags().StringVar(p, "env", "", usage+" (required)")
	// MarkFlagRequired fails only for a flag that is not defined; it was, just above.
	_ = cmd.MarkFlagRequired("env")
}
