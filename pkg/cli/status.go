package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/state"
)

// statusResult is `evctl status`: every recorded resource of the environment (or of one event).
type statusResult struct {
	Env       string         `json:"env"`
	Resources []state.Record `json:"resources"`
	// Ingestion: per event ingested into a table, its lag, last version, rows and DLQ count.
	Ingestion      []eventIngestion `json:"ingestion,omitempty"`
	IngestionError string           `json:"ingestion_error,omitempty"`
}

func newStatusCmd(app *App) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use: "status --env NAME [event]",
		Example: `  evctl status --env prod
  evctl status --env prod feed/video_played -o json`,
		Short: "Per event, per resource: ok / failed / skipped / pending, last error, when, commit",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			event := ""
			if len(args) == 1 {
				event = args[0]
			}
			res, err := app.status(cmd, env, event)
			if err != nil {
				return err
			}
			return app.render(res)
		},
	}
	envFlag(cmd, &env, "environment in evctl.yaml")
	return cmd
}

// status reads env's recorded resources, those of event when it is set ("feed/video_played", or
// just "video_played").
func (a *App) status(cmd *cobra.Command, env, event string) (*statusResult, error) {
	ws, err := a.Workspace()
	if err != nil {
		return nil, err
	}
	store, err := envconn.OpenState(cmd.Context(), ws.Project, env)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	st, _, err := state.Read(cmd.Context(), store, env)
	if err != nil {
		return nil, err
	}
	res := &statusResult{Env: env, Resources: make([]state.Record, 0, len(st.Resources))}
	for _, r := range st.Resources {
		if event != "" && r.Event != event && !strings.HasSuffix(r.Event, "/"+event) {
			continue
		}
		res.Resources = append(res.Resources, r)
	}
	sort.Slice(res.Resources, func(i, j int) bool {
		ri, rj := res.Resources[i], res.Resources[j]
		if ri.Event != rj.Event {
			return ri.Event < rj.Event
		}
		return ri.Key() < rj.Key()
	})
	res.Ingestion, res.IngestionError = a.statusIngestion(cmd.Context(), ws, env, event)
	return res, nil
}

// Human implements humanView: one line per resource, with its error and facts below it.
func (r *statusResult) Human(w io.Writer, _ *App) {
	defer renderStatusIngestion(w, r.Ingestion, r.IngestionError)
	if len(r.Resources) == 0 {
		fmt.Fprintf(w, "nothing recorded for %s yet; run `evctl apply --env %s`\n", r.Env, r.Env)
		return
	}
	for _, rec := range r.Resources {
		commit := rec.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		fmt.Fprintf(w, "%-28s %-15s %-44s %-8s %s %s\n", rec.Event, rec.Kind, rec.Name, rec.Status, rec.Time.Format(time.RFC3339), commit)
		if rec.Error != "" {
			fmt.Fprintf(w, "    %s\n", rec.Error)
		}
		if len(rec.Facts) > 0 {
			fmt.Fprintf(w, "    %s\n", factsLine(rec.Facts))
		}
	}
}
