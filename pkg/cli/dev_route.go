package cli

import (
	"context"
	"fmt"

	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/data/route"
)

// devRoute runs `evctl route` in the dev stack when the repository has consumers: it waits for
// apply to publish them, then delivers (and hot-reloads what later applies publish). The
// returned wait blocks until it stopped after ctx ended.
func (a *App) devRoute(ctx context.Context, ws *workspace.Workspace, env string) func() error {
	if len(ws.Consumers) == 0 {
		return func() error { return nil }
	}
	rc, closeStore, err := a.routeConfig(ctx, env)
	if err != nil {
		fmt.Fprintf(a.IO.ErrOut, "route: not running: %v\n", err)
		return func() error { return nil }
	}
	rc.WaitForConsumers, rc.Tune = true, devIngestTune
	done := make(chan error, 1)
	go func() {
		defer closeStore()
		done <- route.Run(ctx, rc)
	}()
	fmt.Fprintf(a.IO.ErrOut, "route   %d consumers in consumers/, delivered once apply publishes them\n", len(ws.Consumers))
	return func() error { return <-done }
}
