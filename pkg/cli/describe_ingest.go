package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/data/ingest"
	"github.com/evctl/evctl/pkg/discovery/describe"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// addIngestion adds the event's Delta ingestion (lag, last commit, rows, DLQ count) to a
// describe report; what cannot be read goes to its errors.
func (a *App) addIngestion(ctx context.Context, ws *workspace.Workspace, ev *contract.Event, envName string, adm *kadm.Client, r *describe.Report) {
	if !ingestsDelta(ws, ev, envName) {
		return
	}
	st := deltaIngestion(ctx, ws, ev, envName, adm)
	if st.Error != "" {
		r.Errors = append(r.Errors, "ingestion: "+st.Error)
	}
	r.Ingestion = append(r.Ingestion, st)
}

// ingestsDelta reports whether envName ingests ev into a Delta table.
func ingestsDelta(ws *workspace.Workspace, ev *contract.Event, envName string) bool {
	env, err := ws.Project.Env(envName)
	return err == nil && env.Delta.URL != "" && ev.Sinks.Delta != nil && env.Hosts(ev.Stage)
}

// deltaIngestion reads the status of ev's Delta ingestion in envName (status and describe).
func deltaIngestion(ctx context.Context, ws *workspace.Workspace, ev *contract.Event, envName string, adm *kadm.Client) ingest.TableStatus {
	env, _ := ws.Project.Env(envName)
	url := env.Delta.URL
	if rest, ok := strings.CutPrefix(url, "file://"); ok && !filepath.IsAbs(rest) {
		url = "file://" + filepath.Join(ws.Root(), rest)
	}
	lake, err := blob.Open(ctx, url)
	if err != nil {
		return ingest.TableStatus{Sink: ingest.SinkDelta, Error: err.Error()}
	}
	defer lake.Close()
	return ingest.DeltaStatus(ctx, lake, ws.Project.DeltaTableName(envName, ev), envName, ws.Project.TopicName(envName, ev), adm)
}

// renderIngestion is the ingestion part of describe's human view.
func renderIngestion(w io.Writer, r *describe.Report) {
	for _, s := range r.Ingestion {
		last := "-"
		if !s.LastCommit.IsZero() {
			last = s.LastCommit.Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(w, "ingestion:  %s (group %s): version %d, last commit %s, %d rows, lag %d, dlq %d\n",
			s.Sink, s.Group, s.Version, last, s.Rows, s.Lag, s.DLQ)
	}
}
