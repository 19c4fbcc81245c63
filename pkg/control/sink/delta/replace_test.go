package delta_test

import (
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// TestNonAdditive: every change that is not additive is replace for staging and blocked for
// prod, with the reason.
func TestNonAdditive(t *testing.T) {
	const from = `message M { optional int64 a = 1; optional string b = 2; R r = 3; message R { optional int64 x = 1; } }`
	cases := []struct {
		name, to string
		parts    []string
		reason   string
	}{
		{"type change", `message M { optional string a = 1; optional string b = 2; R r = 3; message R { optional int64 x = 1; } }`, nil, `column a changes type from long to string`},
		{"nested type change", `message M { optional int64 a = 1; optional string b = 2; R r = 3; message R { optional int32 x = 1; } }`, nil, `column r.x changes type from long to integer`},
		{"column removed", `message M { optional int64 a = 1; R r = 3; message R { optional int64 x = 1; } }`, nil, `column b is in the table but not in the contract`},
		{"new required column", `message M { optional int64 a = 1; optional string b = 2; R r = 3; message R { optional int64 x = 1; } optional string c = 4 [(evctl.options.v1.required) = true]; }`, nil, `new column c is required`},
		{"becomes required", `message M { optional int64 a = 1 [(evctl.options.v1.required) = true]; optional string b = 2; R r = 3; message R { optional int64 x = 1; } }`, nil, `column a would become required`},
		{"record to scalar", `message M { optional int64 a = 1; optional string b = 2; optional string r = 3; }`, nil, `column r changes type from struct to string`},
		{"partitioning", from, []string{"b"}, `partition columns change from [] to [b]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, stage := range []string{"staging", "prod"} {
				s := newSink(fileStore(t))
				converge(t, s, desired(spec(t, stage, from)), sink.Create)
				ch := plan(t, s, desired(spec(t, stage, c.to, c.parts...)))
				want := map[string]sink.Action{"staging": sink.Replace, "prod": sink.Blocked}[stage]
				if ch.Action != want || !strings.Contains(ch.Reason, c.reason) || len(ch.Diff) == 0 {
					t.Errorf("%s: %s (%s) %v; want %s because %q", stage, ch.Action, ch.Reason, ch.Diff, want, c.reason)
				}
			}
		})
	}
}

// TestReplace: a staging replace creates the table at <name>__r1, points the name at it, and
// leaves the old table untouched; a second replace goes to __r2.
func TestReplace(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			store := b.open(t)
			s := newSink(store)
			converge(t, s, desired(spec(t, "staging", `message M { optional int64 a = 1; }`)), sink.Create)
			handCommit(t, store, "feed/video_played_v1", 1, deltalog.Action{Add: &deltalog.AddFile{Path: "part-0.parquet", DataChange: true}})

			c := converge(t, s, desired(spec(t, "staging", `message M { optional string a = 1; }`)), sink.Replace)
			if !strings.Contains(c.Reason, tableName+"__r1") {
				t.Errorf("replace reason %q does not name the new location", c.Reason)
			}
			l := live(t, s)
			if l.URL != tableName+"__r1" || l.Revision != 1 || l.Version != 0 || l.Schema.Fields[0].Type.Primitive != "string" {
				t.Errorf("after replace: %+v", l)
			}
			old, err := deltalog.Read(t.Context(), store, "feed/video_played_v1")
			if err != nil || old.Version != 1 || old.NumFiles != 1 {
				t.Errorf("old table: %+v, %v; want it left at version 1 with its file", old, err)
			}
			// Applying the same replace again (a retried apply) changes nothing.
			if err := s.Apply(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			if l := live(t, s); l.Revision != 1 {
				t.Errorf("repeated replace moved the table to revision %d", l.Revision)
			}
			converge(t, s, desired(spec(t, "staging", `message M { optional bool a = 1; }`)), sink.Replace)
			if l := live(t, s); l.URL != tableName+"__r2" {
				t.Errorf("second replace at %s", l.URL)
			}
			// Additive changes now evolve the replaced table in place.
			converge(t, s, desired(spec(t, "staging", `message M { optional bool a = 1; optional string b = 2; }`)), sink.Update)
			if l := live(t, s); l.URL != tableName+"__r2" || l.Version != 1 {
				t.Errorf("update after replace: %s v%d", l.URL, l.Version)
			}
		})
	}
}

// TestDelete: an event removed from the repository shows as delete, and applying it is refused
// with what to remove by hand; the table stays.
func TestDelete(t *testing.T) {
	store := fileStore(t)
	s := newSink(store)
	converge(t, s, desired(spec(t, "staging", `message M { optional int64 a = 1; }`)), sink.Create)
	d := sink.Desired{Event: event, Kind: delta.Kind, Name: tableName, Absent: true}
	c := plan(t, s, d)
	if c.Action != sink.Delete {
		t.Fatalf("absent table: %s, want delete", c.Action)
	}
	err := s.Apply(t.Context(), c)
	if err == nil || !strings.Contains(err.Error(), "by hand") || !strings.Contains(err.Error(), tableName) {
		t.Errorf("delete: %v", err)
	}
	if _, err := deltalog.Read(t.Context(), store, "feed/video_played_v1"); err != nil {
		t.Errorf("table gone after a refused delete: %v", err)
	}
	if err := store.Delete(t.Context(), deltalog.CommitKey("feed/video_played_v1", 0), ""); err != nil {
		t.Fatal(err)
	}
	if c := plan(t, s, d); c.Action != sink.Noop {
		t.Errorf("absent and gone: %s, want noop", c.Action)
	}
}

func TestApplyRefusesOtherActions(t *testing.T) {
	s := newSink(fileStore(t))
	d := desired(spec(t, "staging", `message M { optional int64 a = 1; }`))
	for _, a := range []sink.Action{sink.Noop, sink.Blocked} {
		if err := s.Apply(t.Context(), sink.Change{Kind: delta.Kind, Name: tableName, Action: a, Desired: &d}); err == nil {
			t.Errorf("apply %s: no error", a)
		}
	}
	if err := s.Apply(t.Context(), sink.Change{Kind: delta.Kind, Name: "gs://elsewhere/t", Action: sink.Create, Desired: &d}); err == nil {
		t.Errorf("a name outside the lake: %v", err)
	}
}
