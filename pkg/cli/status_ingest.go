package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/data/ingest"
)

// eventIngestion is one event's ingestion into one sink, as `evctl status` shows it.
type eventIngestion struct {
	Event string `json:"event"`
	ingest.TableStatus
}

// statusIngestion reads the ingestion of every event of env (or of the one named) that lands in
// a Delta table: lag, last version and commit, rows, DLQ count, as describe shows them. Kafka is
// reached only when some event is ingested; when it cannot be, lag and DLQ are left out and the
// reason is given.
func (a *App) statusIngestion(ctx context.Context, ws *workspace.Workspace, env, event string) ([]eventIngestion, string) {
	var out []eventIngestion
	for _, ev := range ws.Events {
		if event != "" && ev.ID() != event && !strings.HasSuffix(ev.ID(), "/"+event) {
			continue
		}
		if ingestsDelta(ws, ev, env) {
			out = append(out, eventIngestion{Event: ev.ID()})
		}
	}
	if len(out) == 0 {
		return nil, ""
	}
	kafkaErr := ""
	conn, err := envconn.Open(ctx, ws.Project, env, envconn.Options{Getenv: a.IO.Getenv, Logger: a.logger(), ConnectTimeout: 5 * time.Second})
	if err != nil {
		kafkaErr = err.Error()
	} else {
		defer conn.Close()
		if conn.Kafka == nil && conn.KafkaErr != nil {
			kafkaErr = "kafka: " + conn.KafkaErr.Error()
		}
	}
	for i := range out {
		ev := ws.Event(out[i].Event)
		if conn != nil && conn.Kafka != nil {
			out[i].TableStatus = deltaIngestion(ctx, ws, ev, env, conn.Kafka.Admin())
		} else {
			out[i].TableStatus = deltaIngestion(ctx, ws, ev, env, nil)
		}
	}
	return out, kafkaErr
}

// renderStatusIngestion is the ingestion part of status's human view.
func renderStatusIngestion(w io.Writer, rows []eventIngestion, kafkaErr string) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\ningestion:")
	for _, s := range rows {
		last := "-"
		if !s.LastCommit.IsZero() {
			last = s.LastCommit.Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(w, "%-28s %-8s version %d, last commit %s, %d rows, lag %d, dlq %d\n", s.Event, s.Sink, s.Version, last, s.Rows, s.Lag, s.DLQ)
		if s.Error != "" {
			fmt.Fprintf(w, "    %s\n", s.Error)
		}
	}
	if kafkaErr != "" {
		fmt.Fprintf(w, "    lag and DLQ unknown: %s\n", kafkaErr)
	}
}
