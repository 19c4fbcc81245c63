package apply_test

import (
	"testing"

	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
)

// TestFactsRecorded applies an event with a Delta table on disk, then adds a field: state holds
// the table's facts as they are after each apply (its location, id, log version and schema
// hash), for describe and status; resources without facts (topics) record none.
func TestFactsRecorded(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	evs := defaultEvents()[:1]
	evs[0].Delta = true
	r := newRepo(t, kc, evs)
	r.deltaURL = "file://.evctl/lake"
	r.write()
	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	table := state.ResourceKey("delta_table", "file://.evctl/lake/feed/item_clicked_v1")
	st := r.readState(ctx)
	rec, ok := st.Resources[table]
	if !ok {
		t.Fatalf("no state record %s; have %v", table, keys(st))
	}
	created := rec.Facts
	if created["version"] != "0" || created["location"] == "" || created["table_id"] == "" || len(created["schema_sha256"]) != 64 {
		t.Fatalf("facts after create = %v", created)
	}
	if f := st.Resources[state.ResourceKey("kafka_topic", evs[0].Topic())].Facts; f != nil {
		t.Errorf("topic facts = %v, want none", f)
	}

	r.events[0].Note = true
	r.write()
	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	evolved := r.readState(ctx).Resources[table].Facts
	if evolved["version"] != "1" || evolved["table_id"] != created["table_id"] || evolved["schema_sha256"] == created["schema_sha256"] {
		t.Fatalf("facts after adding a field = %v (before %v)", evolved, created)
	}

	// A no-change apply keeps them (from the plan's own reading).
	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	if again := r.readState(ctx).Resources[table].Facts; again["version"] != "1" || again["schema_sha256"] != evolved["schema_sha256"] {
		t.Fatalf("facts after a no-change apply = %v", again)
	}
}

func keys(st *state.Resources) []string {
	var out []string
	for k := range st.Resources {
		out = append(out, k)
	}
	return out
}
