package clickhouse

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/evctl/evctl/pkg/control/sink"
)

// Diff implements sink.Sink for tables. It does no I/O (the server version was read by Observe):
//   - observation failed → blocked; removed from the repository → delete when live;
//   - missing → create;
//   - a wanted column the table lacks → update (ALTER TABLE ADD COLUMN);
//   - an enum column whose wanted values keep every live one → update (MODIFY COLUMN);
//   - a live column the contract lacks → update entry "columns.<name>" to "" with a reason:
//     kept, never dropped, so drift keeps showing it;
//   - any other type change, or a different sorting or partition key → replace for staging
//     (drops the table's rows; needs --allow-destroy) and blocked for prod;
//   - equal → noop.
func (s *TableSink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	f := s.conn.cachedFeatures()
	return sink.DiffEach(sink.Differ{Kind: KindTable, What: "clickhouse: diff table", DeleteReason: "removed from the repository",
		Present: func(ch *sink.Change) error {
			d, o := ch.Desired, ch.Observed
			w, err := tableSpec(d.Spec)
			if err != nil {
				return err
			}
			cols := w.ColumnsFor(f)
			if !o.Exists {
				ch.Action = sink.Create
				for _, c := range cols {
					ch.Diff = append(ch.Diff, sink.DiffEntry{Path: "columns." + c.Name, To: c.Type})
				}
				ch.Diff = append(ch.Diff, sink.DiffEntry{Path: "order_by", To: strings.Join(w.OrderBy, ", ")})
				if w.TTLDays > 0 && !f.TTL {
					ch.Reason = fmt.Sprintf("ttl not applied: ClickHouse %s has no TTL (19.6+)", f.Version)
				}
				return nil
			}
			lt, ok := o.Spec.(LiveTable)
			if !ok {
				return fmt.Errorf("observed spec is %T", o.Spec)
			}
			td := compareTable(w, cols, lt)
			ch.Diff = td.entries
			switch {
			case len(td.breaking) > 0 && d.Stage == "prod":
				ch.Action = sink.Blocked
				ch.Reason = "prod table cannot change in place: " + strings.Join(td.breaking, "; ") + " (bump major for a new table)"
			case len(td.breaking) > 0:
				ch.Action = sink.Replace
				ch.Reason = "cannot change in place: " + strings.Join(td.breaking, "; ") + "; replacing drops the table's rows"
			case len(td.entries) > 0:
				ch.Action = sink.Update
				if len(td.extra) > 0 {
					ch.Reason = "column added outside evctl, kept: " + strings.Join(td.extra, ", ")
				}
			}
			return nil
		}}, want, have)
}

type tableDiff struct {
	entries  []sink.DiffEntry
	breaking []string
	extra    []string
	add      []Column // columns to ADD
	modify   []Column // enum columns to MODIFY
}

func compareTable(w TableSpec, want []Column, lt LiveTable) tableDiff {
	var td tableDiff
	live := map[string]Column{}
	for _, c := range lt.Columns {
		live[c.Name] = c
	}
	wanted := map[string]bool{}
	for _, c := range want {
		wanted[c.Name] = true
		l, ok := live[c.Name]
		switch {
		case !ok:
			td.entries = append(td.entries, sink.DiffEntry{Path: "columns." + c.Name, To: c.Type})
			td.add = append(td.add, c)
		case l.Type != c.Type && enumGrows(l.Type, c.Type):
			td.entries = append(td.entries, sink.DiffEntry{Path: "columns." + c.Name + ".type", From: l.Type, To: c.Type})
			td.modify = append(td.modify, c)
		case l.Type != c.Type:
			td.entries = append(td.entries, sink.DiffEntry{Path: "columns." + c.Name + ".type", From: l.Type, To: c.Type})
			td.breaking = append(td.breaking, fmt.Sprintf("column %s type %s → %s", c.Name, l.Type, c.Type))
		}
	}
	for _, l := range lt.Columns {
		if !wanted[l.Name] {
			td.entries = append(td.entries, sink.DiffEntry{Path: "columns." + l.Name, From: l.Type})
			td.extra = append(td.extra, l.Name)
		}
	}
	wantKey := normKey(strings.Join(w.OrderBy, ","))
	if normKey(lt.SortingKey) != wantKey {
		td.entries = append(td.entries, sink.DiffEntry{Path: "order_by", From: lt.SortingKey, To: strings.Join(w.OrderBy, ", ")})
		td.breaking = append(td.breaking, fmt.Sprintf("sorting key %q → %q", lt.SortingKey, strings.Join(w.OrderBy, ", ")))
	}
	if normKey(lt.PartitionKey) != "toYYYYMM(event_time)" {
		td.entries = append(td.entries, sink.DiffEntry{Path: "partition_by", From: lt.PartitionKey, To: "toYYYYMM(event_time)"})
		td.breaking = append(td.breaking, fmt.Sprintf("partition key %q → toYYYYMM(event_time)", lt.PartitionKey))
	}
	return td
}

func normKey(s string) string { return strings.NewReplacer(" ", "", "`", "").Replace(s) }

var enumValueRE = regexp.MustCompile(`'((?:[^'\\]|\\.)*)' = (-?\d+)`)

// enumGrows reports whether two Enum8/Enum16 types (maybe inside Nullable or Array) differ
// only by values the wanted one adds: ClickHouse changes that in place, rewriting no data.
func enumGrows(from, to string) bool {
	if !strings.Contains(from, "Enum") || !strings.Contains(to, "Enum") {
		return false
	}
	skeleton := func(t string) string {
		return strings.NewReplacer(",", "", " ", "").Replace(enumValueRE.ReplaceAllString(t, ""))
	}
	if skeleton(from) != skeleton(to) {
		return false
	}
	want := map[string]bool{}
	for _, m := range enumValueRE.FindAllString(to, -1) {
		want[m] = true
	}
	for _, m := range enumValueRE.FindAllString(from, -1) {
		if !want[m] {
			return false
		}
	}
	return true
}

// Diff implements sink.Sink for views:
//   - observation failed → blocked; removed from the repository → delete when live;
//   - missing → create (target, materialized view, backfill);
//   - the live view runs another definition (its marker differs), or is not evctl's → replace
//     for staging (the view is derived data: dropped and rebuilt from the base table) and
//     blocked for prod unless the connection allows destroy;
//   - created but its backfill never finished (apply was interrupted) → update: rebuilt;
//   - equal → noop.
func (s *ViewSink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	return sink.DiffEach(sink.Differ{Kind: KindView, What: "clickhouse: diff view", DeleteReason: "removed from the repository",
		Present: func(ch *sink.Change) error {
			d, o := ch.Desired, ch.Observed
			w, err := viewSpec(d.Spec)
			if err != nil {
				return err
			}
			if !o.Exists {
				ch.Action = sink.Create
				ch.Diff = viewEntries(w, "")
				return nil
			}
			lv, _ := o.Spec.(LiveView)
			switch {
			case lv.Marker != w.Marker() || !lv.TargetExists || !lv.MVExists:
				ch.Diff = viewEntries(w, lv.Marker)
				why := fmt.Sprintf("the view's definition changed (%s → %s)", orNone(lv.Marker), w.Marker())
				if !lv.TargetExists || !lv.MVExists {
					why = "the target table or the materialized view is missing"
				}
				if d.Stage == "prod" && !s.conn.AllowDestroy {
					ch.Action = sink.Blocked
					ch.Reason = "prod view: " + why + "; rebuilding it from the base table needs --allow-destroy"
				} else {
					ch.Action = sink.Replace
					ch.Reason = why + "; rebuilt from the base table"
				}
			case !lv.Backfilled:
				ch.Action = sink.Update
				ch.Reason = "an earlier apply stopped before the backfill finished; rebuilt from the base table"
				ch.Diff = []sink.DiffEntry{{Path: "backfill", From: "incomplete", To: "done"}}
			}
			return nil
		}}, want, have)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func viewEntries(w ViewSpec, from string) []sink.DiffEntry {
	var keys, ms []string
	for _, k := range w.Keys {
		keys = append(keys, k.Column+"="+k.Expr)
	}
	for _, m := range w.Measures {
		arg := m.Field
		ms = append(ms, fmt.Sprintf("%s=%s(%s)", m.Column, m.Func, arg))
	}
	return []sink.DiffEntry{
		{Path: "marker", From: from, To: w.Marker()},
		{Path: "group_by", To: strings.Join(keys, ", ")},
		{Path: "measures", To: strings.Join(ms, ", ")},
	}
}
