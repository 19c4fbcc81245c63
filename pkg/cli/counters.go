package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/data/count"
	"github.com/evctl/evctl/pkg/data/counterstore"
)

// countersGetOptions are `evctl counters get`'s flags.
type countersGetOptions struct {
	Env string
}

func newCountersCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "counters",
		Short: "Read engagement counters",
	}
	o := &countersGetOptions{}
	get := &cobra.Command{
		Use: "get <counter> <key>... --env NAME",
		Example: `  evctl counters get post_likes p123 --env local
  evctl counters get post_likes p123 p456 --env prod -o json`,
		Short: "Print counter values from the environment's counter store (text: `key value` lines)",
		Long: `Reads the values the count workers wrote (closed windows; a window still open is not in them
yet). An unseen key is 0. -o json prints a list of {"counter","key","value"} objects, the shape of
the gateway's GET /v1/counters/{counter}/{key}.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return app.runCountersGet(cmd.Context(), o, args[0], args[1:])
		},
	}
	get.Flags().StringVar(&o.Env, "env", "", "environment whose counter store to read (required)")
	cmd.AddCommand(get)
	return cmd
}

func (a *App) runCountersGet(ctx context.Context, o *countersGetOptions, counter string, keys []string) error {
	fail := func(err error) error { return &ExitError{Code: ExitFailure, Err: err} }
	if err := a.checkOutput("text", "json"); err != nil {
		return err
	}
	if o.Env == "" {
		return fail(fmt.Errorf("counters: --env is required"))
	}
	ws, err := a.Workspace()
	if err != nil {
		return fail(err)
	}
	envCfg, err := ws.Project.Env(o.Env)
	if err != nil {
		return fail(err)
	}
	if _, err := count.Select(ws.Events, func(string) bool { return true }, nil, []string{counter}); err != nil {
		return fail(fmt.Errorf("counters: unknown counter %q", counter))
	}
	var vals []int64
	store, err := a.openCounterStore(ctx, ws.Root(), o.Env, envCfg.Counters)
	switch {
	case errors.Is(err, counterstore.ErrInUse) && envCfg.Gateway.Listen != "":
		// evctl dev holds the embedded store: read through its gateway's counter route.
		vals, err = a.countersViaGateway(ctx, envCfg.Gateway, counter, keys)
	case err == nil:
		defer store.Close()
		vals, err = store.Get(ctx, counter, keys)
	}
	if err != nil {
		return fail(err)
	}
	out := make([]count.Value, len(keys))
	for i, k := range keys {
		out[i] = count.Value{Counter: counter, Key: k, Value: vals[i]}
	}
	if a.Globals.Output == "json" {
		enc := json.NewEncoder(a.IO.Out)
		return enc.Encode(out)
	}
	for _, v := range out {
		fmt.Fprintf(a.IO.Out, "%s %d\n", v.Key, v.Value)
	}
	return nil
}

// countersViaGateway reads values through GET /v1/counters/{counter}/{key} of the environment's
// gateway, with the first token of gateway.tokens_env when it is set.
func (a *App) countersViaGateway(ctx context.Context, g config.GatewayEnv, counter string, keys []string) ([]int64, error) {
	token := ""
	if g.TokensEnv != "" {
		if _, tok, ok := strings.Cut(strings.Split(a.IO.Getenv(g.TokensEnv), ",")[0], "="); ok {
			token = tok
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	out := make([]int64, len(keys))
	for i, k := range keys {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			"http://"+g.Listen+"/v1/counters/"+url.PathEscape(counter)+"/"+url.PathEscape(k), nil)
		if err != nil {
			return nil, fmt.Errorf("counters: %w", err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("counters: the embedded store is held by another process (evctl dev) and its gateway did not answer: %w", err)
		}
		var v count.Value
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			return nil, fmt.Errorf("counters: gateway answered %s for %s/%s", resp.Status, counter, k)
		}
		out[i] = v.Value
	}
	return out, nil
}
