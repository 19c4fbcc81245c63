package cli

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/breaking"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// blockBreaking checks the prod contracts the plan would republish against what the environment
// published last (SPEC 5: the published baseline) and blocks the events that would break their
// consumers. Only the changed events' sets are read, so an unchanged repo costs nothing here.
func (a *App) blockBreaking(ctx context.Context, ws *workspace.Workspace, rep *lint.Report, store blob.Store, env string, p *plan.Plan) error {
	ids := p.ChangedProdContracts()
	if len(ids) == 0 || store == nil {
		return nil
	}
	idx, _, err := descriptor.ReadIndex(ctx, store)
	if err != nil {
		return err
	}
	merged := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	for _, id := range ids {
		e, ok := idx.Events[id]
		if !ok {
			continue
		}
		b, err := descriptor.ReadSet(ctx, store, e.SHA256)
		if err != nil {
			return err
		}
		var set descriptorpb.FileDescriptorSet
		if err := proto.Unmarshal(b, &set); err != nil {
			return fmt.Errorf("breaking baseline: set %s of %s is corrupt: %w", e.SHA256, id, err)
		}
		for _, f := range set.File {
			if !seen[f.GetName()] {
				seen[f.GetName()] = true
				merged.File = append(merged.File, f)
			}
		}
	}
	data, err := proto.Marshal(merged)
	if err != nil {
		return err
	}
	base, err := breaking.FromDescriptorSet("env:"+env, data)
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
