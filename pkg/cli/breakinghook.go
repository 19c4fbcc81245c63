package cli

import (
	"context"

	"github.com/evctl/evctl/pkg/contracts/breaking"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// blockBreaking checks the prod contracts the plan would republish against what the environment
// published last (SPEC 5: the published baseline) and blocks the events that would break their
// consumers. Only the changed events' sets are read, so an unchanged repo costs nothing here.
func (a *App) blockBreaking(ctx context.Context, ws *workspace.Workspace, rep *lint.Report, store blob.Store, env string, p *plan.Plan) error {
	ids := p.ChangedProdContracts()
	if len(ids) == 0 || store == nil {
		return nil
	}
	pub, err := descstore.ReadBaseline(ctx, store, ids)
	if err != nil {
		return err
	}
	base, err := breaking.FromPublished("env:"+env, env, pub)
	if err != nil {
		return err
	}
	defer base.Close()
	res, err := breaking.Check(ctx, breaking.Current{Workspace: ws, Compiled: rep.Compiled}, base, breaking.Options{Getenv: a.IO.Getenv})
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
