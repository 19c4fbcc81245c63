// Package envplan prepares a plan for one environment: the one entry point `evctl plan`, `apply`
// and `drift` share. It compiles and lints the repository, builds every kind's wanted resources,
// connects to the environment (pkg/control/envconn, where sinks are wired), reads its state,
// builds the plan and blocks the prod events whose contract change would break their consumers
// (SPEC 5, against the environment's published descriptors). It prints nothing: the caller
// renders the result.
//
// PrepareCached (cached.go) is the same with a cost that grows with what changed: a per-event
// cache under .evctl/cache/plan (cache.go) of what each event wants, so only changed events are
// loaded and compiled, and a refresh that reads only what changed (plan.BuildFast). Prepare,
// the whole pipeline, stays as the reference the cached plan is tested against.
package envplan

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/evctl/evctl/pkg/contracts/breaking"
	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Options tune Prepare.
type Options struct {
	// Getenv reads the process environment (credentials, emulator endpoints, the buf binary).
	Getenv func(string) string
	Logger *slog.Logger
	// Refresh is how much of the live systems PrepareCached reads (plan.RefreshFull when
	// empty); Prepare always reads everything.
	Refresh plan.Refresh
}

// Run is a prepared plan and the open environment it was computed against. Close it.
type Run struct {
	Workspace *workspace.Workspace
	Conn      *envconn.Conn
	Target    *sink.Target
	State     *state.Resources
	Plan      *plan.Plan
}

// Close releases the environment's connections.
func (r *Run) Close() { r.Conn.Close() }

// LintError is returned when the repository has errors that stop planning; Diags holds them
// (errors only), for the caller to render.
type LintError struct {
	Diags diag.List
}

func (e *LintError) Error() string {
	return fmt.Sprintf("envplan: %d contract error(s); run `evctl lint` for details", len(e.Diags))
}

// Prepare computes the plan of env. Contract errors are a *LintError; everything else that
// stops the plan (an unknown environment, an unreadable state store) is an error. A system that
// cannot be reached is not: its resources show in the plan as not readable (Plan.Errors).
func Prepare(ctx context.Context, ws *workspace.Workspace, env string, opts Options) (*Run, error) {
	if opts.Getenv == nil {
		return nil, fmt.Errorf("envplan: no Getenv")
	}
	rep := lint.Check(ctx, ws, lint.Options{SkipGenFresh: true})
	if rep.Diags.HasErrors() {
		var only diag.List
		for _, d := range rep.Diags {
			if d.Severity == diag.Error {
				only = append(only, d)
			}
		}
		return nil, &LintError{Diags: only}
	}
	t, err := sink.NewTarget(ws.Project, env, ws.Events, rep.Compiled)
	if err != nil {
		return nil, err
	}
	t.Consumers = ws.Consumers
	conn, err := envconn.Open(ctx, ws.Project, env, envconn.Options{Getenv: opts.Getenv, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	run, err := prepare(ctx, ws, rep.Compiled, conn, t, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return run, nil
}

func prepare(ctx context.Context, ws *workspace.Workspace, compiled *compile.Result, conn *envconn.Conn, t *sink.Target, opts Options) (*Run, error) {
	want, err := plan.Desire(conn.Registry, t)
	if err != nil {
		return nil, err
	}
	st, _, err := state.Read(ctx, conn.State, t.Env)
	if err != nil {
		return nil, err
	}
	p, err := plan.Build(ctx, conn.Registry, want, plan.Options{Env: t.Env, State: st, Target: t})
	if err != nil {
		return nil, err
	}
	if err := blockBreaking(ctx, ws, compiled, conn.Descriptors, t.Env, p, opts); err != nil {
		return nil, err
	}
	return &Run{Workspace: ws, Conn: conn, Target: t, State: st, Plan: p}, nil
}

// blockBreaking checks the prod contracts the plan would republish against what the environment
// published last (SPEC 5: the published baseline) and blocks the events that would break their
// consumers. Only the changed events' sets are read, so an unchanged repo costs nothing here.
func blockBreaking(ctx context.Context, ws *workspace.Workspace, compiled *compile.Result, store blob.Store, env string, p *plan.Plan, opts Options) error {
	ids := descriptor.ChangedProd(p.Changes)
	if len(ids) == 0 || store == nil {
		return nil
	}
	pub, err := descstore.ReadBaseline(ctx, store, ids)
	if err != nil {
		return fmt.Errorf("envplan: breaking baseline: %w", err)
	}
	base, err := breaking.FromPublished("env:"+env, env, pub)
	if err != nil {
		return err
	}
	defer base.Close()
	res, err := breaking.Check(ctx, breaking.Current{Workspace: ws, Compiled: compiled}, base, breaking.Options{Getenv: opts.Getenv})
	if err != nil {
		return err
	}
	found := map[string][]plan.Breaking{}
	for id, fs := range res.FailingByEvent() {
		for _, f := range fs {
			found[id] = append(found[id], plan.Breaking{Event: f.Event, Field: f.Field, Rule: f.Rule, Message: f.Message})
		}
	}
	p.Block(found)
	return nil
}
