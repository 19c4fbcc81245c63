package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	sinkdelta "github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// TableStatus is what status and describe show about one event's ingestion into one sink.
type TableStatus struct {
	Sink       string    `json:"sink"`  // delta
	Group      string    `json:"group"` // evctl.<env>.ingest.<sink>
	Location   string    `json:"location"`
	Version    int64     `json:"version"`              // the table's latest commit
	LastCommit time.Time `json:"last_commit,omitzero"` // when the newest commit by ingestion was written
	Rows       int64     `json:"rows"`                 // numRecords of the live files
	Lag        int64     `json:"lag"`                  // records in Kafka not yet in the table
	DLQ        int64     `json:"dlq"`                  // records in <topic>.dlq
	Error      string    `json:"error,omitempty"`      // what could not be read
}

// DeltaStatus reads the table of an event (rel: config.Project.DeltaTableName) and compares its
// txn versions with the topic's end offsets. adm may be nil (no lag and DLQ then).
func DeltaStatus(ctx context.Context, lake blob.Store, rel, env, topic string, adm *kadm.Client) TableStatus {
	group := worker.GroupID(env, "ingest", SinkDelta)
	st := TableStatus{Sink: SinkDelta, Group: group}
	fail := func(err error) TableStatus {
		st.Error = err.Error()
		return st
	}
	loc, err := sinkdelta.Locate(ctx, lake, rel)
	if err != nil {
		return fail(err)
	}
	st.Location = loc
	snap, err := deltalog.Read(ctx, lake, loc)
	if err != nil {
		return fail(err)
	}
	st.Version = snap.Version
	for _, f := range snap.Files {
		var s struct {
			NumRecords int64 `json:"numRecords"`
		}
		if json.Unmarshal([]byte(f.Stats), &s) == nil {
			st.Rows += s.NumRecords
		}
	}
	if b, _, err := lake.Get(ctx, deltalog.CommitKey(loc, snap.Version)); err == nil {
		if acts, err := deltalog.ParseCommit(b); err == nil {
			for _, a := range acts {
				if ts, ok := a.CommitInfo["timestamp"].(float64); ok {
					st.LastCommit = time.UnixMilli(int64(ts)).UTC()
				}
			}
		}
	}
	if adm == nil {
		return st
	}
	ends, err := adm.ListEndOffsets(ctx, topic, worker.DLQTopic(topic))
	if err != nil {
		return fail(fmt.Errorf("kafka: %w", err))
	}
	var errs []error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			if o.Topic == topic {
				errs = append(errs, o.Err)
			}
			return
		}
		if o.Topic != topic {
			st.DLQ += o.Offset
			return
		}
		next := int64(0)
		if v, ok := snap.Txns[group+"/"+topic+"/"+strconv.Itoa(int(o.Partition))]; ok {
			next = v + 1
		}
		if o.Offset > next {
			st.Lag += o.Offset - next
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fail(fmt.Errorf("kafka: %w", err))
	}
	return st
}
