package plan

import (
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/state"
)

// The rules Build layers over the sinks' diffs, one case each. The same rules are exercised end
// to end against kfake in pkg/control/apply and pkg/cli; these pin their edges.

func topicChange(action sink.Action, hash string, diff ...sink.DiffEntry) sink.Change {
	return sink.Change{Event: "feed/a", Kind: kafka.KindTopic, Name: "t", Action: action, Diff: diff,
		Reason: "partitions cannot decrease", Desired: &sink.Desired{Hash: hash}, Observed: &sink.Observed{Exists: true}}
}

func TestDrift(t *testing.T) {
	part := sink.DiffEntry{Path: "partitions", From: "3", To: "1"}
	ok := state.Record{Status: state.StatusOK, Hash: "h1"}
	skipped := state.Record{Status: state.StatusSkipped, Hash: "h1"}
	failed := state.Record{Status: state.StatusFailed, Hash: "h1"}
	for _, tc := range []struct {
		name  string
		c     sink.Change
		rec   state.Record
		owned bool
		want  string // "" for no drift, else a substring of the message
	}{
		{"changed by hand", topicChange(sink.Update, "h1", part), ok, true, `partitions is "3" live, "1" in the repo`},
		{"deleted by hand", topicChange(sink.Create, "h1"), ok, true, "deleted outside evctl"},
		{"changed in the repo, not by hand", topicChange(sink.Update, "h2", part), ok, true, ""},
		{"not ours", topicChange(sink.Update, "h1", part), ok, false, ""},
		{"last apply failed", topicChange(sink.Update, "h1", part), failed, true, ""},
		{"blocked: apply cannot undo it", topicChange(sink.Blocked, "h1", part), ok, true, "apply cannot undo it: partitions cannot decrease"},
		{"blocked and skipped since", topicChange(sink.Blocked, "h1", part), skipped, true, "apply cannot undo it"},
		{"skipped for another reason", topicChange(sink.Update, "h1", part), skipped, true, ""},
		{"blocked without a diff (unreadable)", topicChange(sink.Blocked, "h1"), ok, true, ""},
		{"noop", topicChange(sink.Noop, "h1"), ok, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := drift(&tc.c, tc.rec, tc.owned)
			switch {
			case tc.want == "" && len(got) != 0:
				t.Fatalf("drift %v, want none", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0].Message, tc.want)):
				t.Fatalf("drift %v, want one containing %q", got, tc.want)
			}
		})
	}
}

func TestAbsentOnlyOwnedAndUnwanted(t *testing.T) {
	st := state.NewResources()
	for _, r := range []state.Record{
		{Event: "feed/a", Kind: kafka.KindTopic, Name: "kept"},
		{Event: "feed/b", Kind: kafka.KindTopic, Name: "gone"},
		{Event: "feed/b", Kind: kafka.KindACL, Name: "gone"},
	} {
		st.Resources[r.Key()] = r
	}
	got := absent(kafka.KindTopic, []sink.Desired{{Name: "kept"}}, st)
	if len(got) != 1 || got[0].Name != "gone" || !got[0].Absent || got[0].Event != "feed/b" {
		t.Fatalf("absent = %+v, want only the topic gone", got)
	}
}

func TestBlockBreaking(t *testing.T) {
	p := &Plan{Changes: []sink.Change{
		{Event: "feed/a", Kind: descriptor.Kind, Action: sink.Update, Desired: &sink.Desired{Stage: contract.StageProd}},
		{Event: "feed/a", Kind: kafka.KindTopic, Action: sink.Noop},
		{Event: "feed/a", Kind: "bigquery_table", Action: sink.Update},
		{Event: "feed/b", Kind: descriptor.Kind, Action: sink.Update, Desired: &sink.Desired{Stage: contract.StageStaging}},
	}}
	if got := descriptor.ChangedProd(p.Changes); len(got) != 1 || got[0] != "feed/a" {
		t.Fatalf("ChangedProd = %v, want [feed/a]", got)
	}
	p.Block(map[string][]Breaking{"feed/a": {{Event: "feed/a", Field: "x", Rule: "FIELD_WIRE_JSON_COMPATIBLE_TYPE"}}})
	want := []sink.Action{sink.Blocked, sink.Noop, sink.Blocked, sink.Update}
	for i, c := range p.Changes {
		if c.Action != want[i] {
			t.Errorf("%s %s: %s, want %s", c.Event, c.Kind, c.Action, want[i])
		}
	}
	if p.Summary.Blocked != 2 || !p.Blocked() || !p.HasChanges() || len(p.Breaking) != 1 {
		t.Fatalf("summary %+v, breaking %v", p.Summary, p.Breaking)
	}
	if !strings.Contains(p.Changes[0].Reason, "FIELD_WIRE_JSON_COMPATIBLE_TYPE on x") {
		t.Errorf("reason %q", p.Changes[0].Reason)
	}
}
