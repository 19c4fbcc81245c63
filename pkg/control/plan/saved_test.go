package plan_test

import (
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
)

func savedSample() *plan.Plan {
	return &plan.Plan{Env: "local", Changes: []sink.Change{
		{Event: "feed/a", Kind: "kafka_topic", Name: "local.feed.a.v1", Action: sink.Update, Reason: "x",
			Diff: []sink.DiffEntry{{Path: "configs.retention.ms", From: "1", To: "2"}}},
		{Event: "feed/a", Kind: "descriptor", Name: "feed/a", Action: sink.Noop},
	}}
}

// TestSavedRoundTrip: a saved plan reads back with the same hash; the hash ignores order and
// reasons but not actions or diffs.
func TestSavedRoundTrip(t *testing.T) {
	p := savedSample()
	b, err := plan.NewSaved(p, "7", "abc", time.Unix(0, 0)).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := plan.ReadSaved(b)
	if err != nil || s.StateGeneration != "7" || s.Commit != "abc" || s.ChangesHash != plan.ChangesHash(p) {
		t.Fatalf("read back: %v %+v", err, s)
	}
	q := savedSample()
	q.Changes[0], q.Changes[1] = q.Changes[1], q.Changes[0]
	q.Changes[1].Reason = "other words"
	if plan.ChangesHash(q) != plan.ChangesHash(p) {
		t.Error("order or reason changed the hash")
	}
	q.Changes[1].Diff[0].To = "3"
	if plan.ChangesHash(q) == plan.ChangesHash(p) {
		t.Error("a different diff kept the hash")
	}
	if d := plan.Differences(p, q, 5); len(d) != 1 || d[0] != "kafka_topic/local.feed.a.v1: update with a different diff" {
		t.Errorf("Differences = %q", d)
	}
}

// FuzzReadSaved: any bytes are a saved plan or an error, never a panic.
func FuzzReadSaved(f *testing.F) {
	b, _ := plan.NewSaved(savedSample(), "1", "", time.Unix(0, 0)).Marshal()
	f.Add(b)
	f.Add([]byte(`{"format":"evctl-plan/1","env":"x","plan":{"env":"x","changes":[{}]},"changes_hash":"0"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := plan.ReadSaved(data)
		if err == nil && (s.Plan == nil || s.ChangesHash != plan.ChangesHash(s.Plan)) {
			t.Fatalf("accepted an inconsistent plan: %+v", s)
		}
	})
}
