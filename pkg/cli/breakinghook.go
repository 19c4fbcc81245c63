package cli

import (
	"context"

	"github.com/evctl/evctl/pkg/lint"
	"github.com/evctl/evctl/pkg/plan"
	"github.com/evctl/evctl/pkg/workspace"
)

// breakingFor returns the breaking findings of prod events against what env last published.
// The breaking check plugs in here.
func (a *App) breakingFor(ctx context.Context, ws *workspace.Workspace, rep *lint.Report, env string) (map[string][]plan.Breaking, error) {
	return nil, nil
}
