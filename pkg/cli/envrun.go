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

	"github.com/evctl/evctl/pkg/control/envplan"
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
