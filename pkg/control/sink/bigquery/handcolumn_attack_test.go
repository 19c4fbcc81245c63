package bigquery_test

import (
	"context"
	"strings"
	"testing"

	bq "cloud.google.com/go/bigquery"

	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
	"github.com/evctl/evctl/pkg/control/state"
)

// TestAttackHandAddedColumnNeverConverges: a column added to a table by hand (on the emulator)
// is drift, not a change: the plan has nothing to do (plan --detailed-exitcode exits 0), its
// drift array names the column, and the column stays.
func TestAttackHandAddedColumnNeverConverges(t *testing.T) {
	s, raw := emulatorSink(t)
	want := spec(t, everything(t), "hand_column_v1", "prod")
	d := desired(want, "prod")
	converge(t, s, d, sink.Create)
	byHand(t, raw, want, func(md *bq.TableMetadata) {
		md.Schema = append(md.Schema, &bq.FieldSchema{Name: "by_hand", Type: bq.StringFieldType})
	})
	st := state.NewResources()
	rec := state.Record{Event: d.Event, Kind: bigquery.Kind, Name: d.Name, Status: state.StatusOK, Hash: sink.Hash(want)}
	st.Resources[rec.Key()] = rec
	d.Hash = sink.Hash(want)
	for run := 0; run < 2; run++ { // the same answer every time: nothing for apply to claim
		p, err := plan.Build(context.Background(), sink.NewRegistry(s), map[string][]sink.Desired{bigquery.Kind: {d}},
			plan.Options{Env: "test", State: st})
		if err != nil {
			t.Fatal(err)
		}
		if p.HasChanges() || p.Summary.Update != 0 {
			t.Fatalf("run %d: plan has changes %+v: apply would report an update it cannot make", run, p.Summary)
		}
		if len(p.Drift) != 1 || !strings.Contains(p.Drift[0].Message, "by_hand") {
			t.Fatalf("run %d: drift %+v, want the hand-added column", run, p.Drift)
		}
	}
	md, err := raw.Dataset("events").Table(want.Table).Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if md.Schema[len(md.Schema)-1].Name != "by_hand" {
		t.Errorf("the hand-added column is gone")
	}
}
