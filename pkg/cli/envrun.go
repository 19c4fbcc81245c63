package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/state"
)

// envRun is what plan, apply and drift share: the compiled repo, the open environment, its state
// and the plan.
type envRun struct {
	ws    *workspace.Workspace
	conn  *envconn.Conn
	state *state.Resources
	plan  *plan.Plan
}

func (a *App) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// preparePlan compiles the repository, connects to env and computes the plan.
func (a *App) preparePlan(ctx context.Context, env string) (*envRun, error) {
	if env == "" {
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("--env is required")}
	}
	ws, err := a.Workspace()
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	rep := lint.Check(ctx, ws, lint.Options{SkipGenFresh: true})
	if err := a.failOnDiags(rep.Diags); err != nil {
		return nil, err
	}
	t := plan.Target{Env: env, Project: ws.Project, Events: ws.Events, Compiled: rep.Compiled}
	want, err := plan.Desire(t)
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	conn, err := envconn.Open(ctx, ws.Project, env, envconn.Options{Getenv: a.IO.Getenv, Logger: a.logger()})
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	st, _, err := state.Read(ctx, conn.State, env)
	if err != nil {
		conn.Close()
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	p, err := plan.Build(ctx, conn.Registry, want, plan.Options{
		Env: env, State: st, UnmanagedPrefix: topicPrefix(ws.Project, env),
	})
	if err == nil {
		err = a.blockBreaking(ctx, ws, rep, conn.Descriptors, env, p)
	}
	if err != nil {
		conn.Close()
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	return &envRun{ws: ws, conn: conn, state: st, plan: p}, nil
}

// topicPrefix is the part of the topic template before the first per-event placeholder, with the
// environment filled in: "local." for "{env}.{domain}.{event}.v{major}".
func topicPrefix(p *config.Project, env string) string {
	t := strings.ReplaceAll(p.Naming.Topic, "{env}", env)
	if i := strings.IndexByte(t, '{'); i >= 0 {
		t = t[:i]
	}
	return t
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
