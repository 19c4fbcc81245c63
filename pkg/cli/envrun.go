package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/plan"
)

func (a *App) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// preparePlan prepares env's plan (pkg/control/envplan); contract errors are rendered like
// lint's, on stderr.
func (a *App) preparePlan(ctx context.Context, env string) (*envplan.Run, error) {
	ws, err := a.Workspace()
	if err != nil {
		return nil, err
	}
	run, err := envplan.Prepare(ctx, ws, env, envplan.Options{Getenv: a.IO.Getenv, Logger: a.logger()})
	var lintErr *envplan.LintError
	if errors.As(err, &lintErr) {
		return nil, a.failOnDiags(lintErr.Diags)
	}
	return run, err
}

// prepareCached prepares env's plan through the planner's per-event cache
// (envplan.PrepareCached), reading as much of the live systems as refresh says; contract errors
// are rendered like lint's, on stderr.
func (a *App) prepareCached(ctx context.Context, env string, refresh plan.Refresh) (*envplan.Run, error) {
	run, err := envplan.PrepareCached(ctx, a.Globals.Config, a.IO.WorkDir, env, envplan.Options{Getenv: a.IO.Getenv, Logger: a.logger(), Refresh: refresh})
	var lintErr *envplan.LintError
	if errors.As(err, &lintErr) {
		return nil, a.failOnDiags(lintErr.Diags)
	}
	return run, err
}

// refreshFlag binds --refresh: fast (plan's default) reads only what changed plus cheap
// listings, full reads every resource.
func refreshFlag(cmd *cobra.Command, p *string, def plan.Refresh) {
	cmd.Flags().StringVar(p, "refresh", string(def), "how much of the live systems to read: fast (what changed since the last apply, plus one listing per kind: see README \"Choices\") or full (every resource)")
}

// gitCommit returns HEAD of the repository at root, or "" outside git.
func gitCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// who names the person or CI job running evctl, for locks and audit records.
func (a *App) who() string {
	if actor := a.IO.Getenv("GITHUB_ACTOR"); actor != "" {
		return actor + " (GitHub Actions)"
	}
	name := a.IO.Getenv("USER")
	if u, err := user.Current(); err == nil && name == "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s pid %d", name, host, os.Getpid())
}
