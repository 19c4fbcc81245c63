package clickhouse

import (
	"testing"

	"github.com/evctl/evctl/pkg/control/sink"
)

func TestEnumGrowsInPlace(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{"Nullable(Enum8('A' = 1, 'B' = 2))", "Nullable(Enum8('A' = 1, 'B' = 2, 'C' = 3))", true},
		{"Array(Enum8('A' = 1))", "Array(Enum8('A' = 1, 'B' = 2))", true},
		{"Enum8('A' = 1, 'B' = 2)", "Enum8('A' = 1)", false},           // a value removed
		{"Enum8('A' = 1, 'B' = 2)", "Enum8('A' = 1, 'B' = 3)", false},  // renumbered
		{"Nullable(Enum8('A' = 1))", "Enum8('A' = 1, 'B' = 2)", false}, // nullability changed
		{"Enum8('A' = 1)", "Enum16('A' = 1, 'B' = 300)", false},        // wider: a rewrite
		{"Nullable(String)", "Nullable(Int64)", false},
	} {
		if got := enumGrows(tc.from, tc.to); got != tc.want {
			t.Errorf("enumGrows(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

// TestTableDiffWithoutServer covers what the lifecycle test against the server does not: an enum
// gaining a value is an in-place update, in prod too; a removed enum value blocks prod.
func TestTableDiffWithoutServer(t *testing.T) {
	conn := &Conn{}
	s := NewTableSink(conn)
	w := TableSpec{Database: "events", Table: "t", OrderBy: []string{"`event_time`", "`event_id`"}, Columns: map[string][]Column{
		"18.16": {{Name: "event_id", Type: "String"}, {Name: "event_time", Type: "DateTime('UTC')"}, {Name: "q", Type: "Nullable(Enum8('A' = 1, 'B' = 2))"}},
	}}
	live := LiveTable{SortingKey: "event_time, event_id", PartitionKey: "toYYYYMM(event_time)", Columns: []Column{
		{Name: "event_id", Type: "String"}, {Name: "event_time", Type: "DateTime('UTC')"}, {Name: "q", Type: "Nullable(Enum8('A' = 1))"}}}
	d := sink.Desired{Kind: KindTable, Name: "events.t", Stage: "prod", Spec: w}
	o := sink.Observed{Kind: KindTable, Name: "events.t", Exists: true, Spec: live}
	cs, err := s.Diff([]sink.Desired{d}, []sink.Observed{o})
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Action != sink.Update || len(cs[0].Diff) != 1 || cs[0].Diff[0].Path != "columns.q.type" {
		t.Fatalf("enum grew: %s %+v", cs[0].Action, cs[0].Diff)
	}
	live.Columns[2].Type = "Nullable(Enum8('A' = 1, 'B' = 2, 'C' = 3))"
	o.Spec = live
	if cs, _ = s.Diff([]sink.Desired{d}, []sink.Observed{o}); cs[0].Action != sink.Blocked {
		t.Fatalf("enum value removed in prod: %s", cs[0].Action)
	}
}
