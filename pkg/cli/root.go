// Package cli is evctl's command tree: each command parses flags, calls pkg/ and renders the
// result as text or JSON. It is the only package that knows about terminals, exit codes and
// output formats; it holds no business logic of its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// Exit codes (SPEC section 3).
const (
	ExitOK      = 0
	ExitFailure = 1 // findings, errors, blocked changes
	ExitChanges = 2 // plan --detailed-exitcode with changes; drift found
)

// ExitError carries an exit code. Silent means the command already printed its message.
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// silent returns an error that exits with code without printing anything more.
func silent(code int) error { return &ExitError{Code: code, Silent: true} }

// Globals are the flags every command has.
type Globals struct {
	Config string
	Output string
}

// App holds what commands share: streams and global flags.
type App struct {
	IO      *IOStreams
	Globals Globals
}

// Workspace opens the contracts repository named by --config, or found upward from the work dir,
// with the events' YAML trees released (workspace.OpenReleased): commands read the contracts;
// the checks run through lint.CheckIncremental, which loads files itself.
func (a *App) Workspace() (*workspace.Workspace, error) {
	return workspace.OpenReleased(a.Globals.Config, a.IO.WorkDir)
}

// Main runs evctl with args and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, System(), args)
}

// Run executes one evctl invocation on the given streams.
func Run(ctx context.Context, io *IOStreams, args []string) int {
	app := &App{IO: io}
	root := NewRoot(app)
	root.SetArgs(args)
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if !ee.Silent && ee.Err != nil {
			fmt.Fprintln(io.ErrOut, "evctl: "+ee.Err.Error())
		}
		return ee.Code
	}
	fmt.Fprintln(io.ErrOut, "evctl: "+err.Error())
	return ExitFailure
}

// NewRoot builds the command tree explicitly (no init() registration), so tests build their own.
func NewRoot(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:           "evctl",
		Short:         "Event contracts as code: Protobuf contracts, Kafka topics, warehouse tables and a gateway from one repo",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&app.Globals.Config, "config", "", "path to evctl.yaml (default: ./evctl.yaml, searched upward)")
	root.PersistentFlags().StringVarP(&app.Globals.Output, "output", "o", "text", "output format: text or json (plan also takes markdown)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return checkOutputFlag(cmd, app) }
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())
	})
	root.AddCommand(
		newInitCmd(app),
		newNewCmd(app),
		newLintCmd(app),
		newGenerateCmd(app),
		newBuildCmd(app),
		newExportCmd(app),
		newBreakingCmd(app), newPromoteCmd(app),
	)
	for _, c := range extraCommands(app) {
		root.AddCommand(c)
	}
	addVersionFlag(root, app)
	return root
}

// extraCommands is where later capabilities add their commands.
func extraCommands(app *App) []*cobra.Command {
	return []*cobra.Command{
		newPlanCmd(app), newApplyCmd(app), newDriftCmd(app), newStatusCmd(app),
		newUnlockCmd(app), newStateCmd(app), newDevCmd(app),
		newListCmd(app), newSearchCmd(app), newCodeownersCmd(app),
		newGatewayCmd(app), newIngestCmd(app), newCompactCmd(app),
		newDescribeCmd(app), newTailCmd(app), newCatalogCmd(app),
		newCountCmd(app), newCountersCmd(app), newImportCmd(app), newRouteCmd(app),
		newVersionCmd(app), newSchemaCmd(app), newShowCmd(app),
	}
}

func (a *App) checkOutput(allowed ...string) error {
	for _, o := range allowed {
		if a.Globals.Output == o {
			return nil
		}
	}
	return fmt.Errorf("-o %s is not supported here (use one of %v)", a.Globals.Output, allowed)
}
