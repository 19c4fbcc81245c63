package cli

import (
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// defaultMemoryLimitMB is the soft memory limit of the long-running commands (gateway and
// workers): under the 1 GB a process of evctl is meant to fit in with 10,000 events.
const defaultMemoryLimitMB = 768

// memoryLimitFlag adds --memory-limit-mb to a long-running command.
func memoryLimitFlag(cmd *cobra.Command, mb *int64) {
	cmd.Flags().Int64Var(mb, "memory-limit-mb", defaultMemoryLimitMB,
		"soft memory limit (MiB) of the Go runtime, as GOMEMLIMIT (which wins when set); 0: none")
}

// setMemoryLimit applies --memory-limit-mb unless GOMEMLIMIT is set. The garbage collector
// lets the heap grow to twice what is live before collecting; with thousands of topics or
// tables in use that headroom alone passed 1 GB. A soft limit makes it collect sooner instead
// (GOMEMLIMIT's semantics: never a hard cap, and the runtime bounds the GC's CPU).
// `evctl dev` runs the same workers in its own process and leaves the limit alone.
func setMemoryLimit(mb int64) {
	if mb > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(mb << 20)
	}
}
