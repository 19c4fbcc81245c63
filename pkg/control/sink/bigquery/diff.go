package bigquery

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
)

// tableDiff is the comparison of a wanted table with a live one.
type tableDiff struct {
	entries []sink.DiffEntry
	// breaking are the reasons the table can only change by replacement (empty: in place).
	breaking []string
	// extra are the paths of live columns the contract lacks and does not reserve: added outside
	// evctl. They are diff entries and kept; alone they make a noop with a diff, which the
	// planner reports as drift.
	extra []string
}

// Diff compares wanted tables with their observations. It never does I/O. For each desired
// table:
//   - observation failed → blocked, with the error as reason;
//   - Absent (removed from the repository) → delete when live, noop when gone;
//   - missing → create;
//   - differences BigQuery applies in place — a new NULLABLE or REPEATED column (nested ones
//     too), REQUIRED relaxed to NULLABLE, a column or table description, one of evctl's labels
//     missing or different — → update, with paths such as "schema.device.model",
//     "schema.watch_ms.description", "labels.evctl-stage", "description";
//   - a live column the contract neither has nor reserves (added by hand) → the entry
//     "schema.<path>" from "<TYPE MODE>" to "", never dropped: alone it is a noop that keeps
//     its diff and reason (apply cannot change it, so it is drift, not a change); with other
//     differences it rides along an update, whose Apply keeps it;
//   - anything else — a type change, a mode change other than the relax, a new REQUIRED column,
//     a column the contract removed (reserved), a partitioning or clustering change — →
//     replace for a staging table (Apply deletes and recreates it; the engine runs that only
//     with --allow-destroy) and blocked for a prod table, the reason naming each change;
//   - equal → noop.
//
// The error is for a spec of the wrong type or a desired table with no observation.
func (s *TableSink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	return Diff(want, have)
}

// Diff is TableSink.Diff as a function: it needs no client.
func Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	return sink.DiffEach(sink.Differ{
		Kind: Kind, What: "bigquery: diff table", DeleteReason: "removed from the repository",
		Present: func(ch *sink.Change) error {
			d, o := ch.Desired, ch.Observed
			w, err := tableSpec(d.Spec)
			if err != nil {
				return err
			}
			if !o.Exists {
				ch.Action, ch.Diff = sink.Create, createDiff(w)
				return nil
			}
			live, err := liveTable(o.Spec)
			if err != nil {
				return err
			}
			td := compare(w, live.Spec)
			ch.Diff = td.entries
			switch {
			case len(td.breaking) > 0 && d.Stage == "prod":
				ch.Action = sink.Blocked
				ch.Reason = "prod table cannot change in place: " + strings.Join(td.breaking, "; ") + " (bump major for a new table)"
			case len(td.breaking) > 0:
				ch.Action = sink.Replace
				ch.Reason = "cannot change in place: " + strings.Join(td.breaking, "; ") + "; replacing drops the table's data"
			case len(td.entries) > len(td.extra):
				ch.Action = sink.Update
				if len(td.extra) > 0 {
					ch.Reason = "column added outside evctl, kept (BigQuery cannot drop columns in place): " + strings.Join(td.extra, ", ")
				}
			case len(td.extra) > 0:
				// Nothing apply can do: an update here would be reported "ok" and planned again
				// forever. A noop that keeps the diff is drift (SPEC 4), not a change.
				ch.Reason = "column added outside evctl, kept (BigQuery cannot drop columns in place; add it to the contract or drop it by hand): " + strings.Join(td.extra, ", ")
			}
			return nil
		},
	}, want, have)
}

// createDiff lists what a create sets: top-level columns, partitioning, clustering, labels.
func createDiff(w TableSpec) []sink.DiffEntry {
	var diff []sink.DiffEntry
	for _, f := range w.Schema {
		diff = append(diff, sink.DiffEntry{Path: "schema." + f.Name, To: column(f)})
	}
	if w.Partition.Field != "" {
		diff = append(diff, sink.DiffEntry{Path: "partition", To: partition(w.Partition)})
	}
	if len(w.Clustering) > 0 {
		diff = append(diff, sink.DiffEntry{Path: "clustering", To: strings.Join(w.Clustering, ",")})
	}
	if w.Description != "" {
		diff = append(diff, sink.DiffEntry{Path: "description", To: w.Description})
	}
	for _, k := range slices.Sorted(maps.Keys(w.Labels)) {
		diff = append(diff, sink.DiffEntry{Path: "labels." + k, To: w.Labels[k]})
	}
	return diff
}

// compare diffs a wanted table with the live one (see Diff for the rules).
func compare(w, live TableSpec) tableDiff {
	var td tableDiff
	removed := map[string]bool{}
	for _, p := range w.Removed {
		removed[p] = true
	}
	compareFields(&td, "", w.Schema, live.Schema, removed)
	if w.Partition != live.Partition {
		td.entries = append(td.entries, sink.DiffEntry{Path: "partition", From: partition(live.Partition), To: partition(w.Partition)})
		td.breaking = append(td.breaking, fmt.Sprintf("partitioning %q → %q", partition(live.Partition), partition(w.Partition)))
	}
	if !slices.Equal(w.Clustering, live.Clustering) {
		from, to := strings.Join(live.Clustering, ","), strings.Join(w.Clustering, ",")
		td.entries = append(td.entries, sink.DiffEntry{Path: "clustering", From: from, To: to})
		td.breaking = append(td.breaking, fmt.Sprintf("clustering %q → %q", from, to))
	}
	if w.Description != live.Description {
		td.entries = append(td.entries, sink.DiffEntry{Path: "description", From: live.Description, To: w.Description})
	}
	for _, k := range slices.Sorted(maps.Keys(w.Labels)) {
		if v, ok := live.Labels[k]; !ok || v != w.Labels[k] {
			td.entries = append(td.entries, sink.DiffEntry{Path: "labels." + k, From: v, To: w.Labels[k]})
		}
	}
	return td
}

func compareFields(td *tableDiff, prefix string, want, live []typemap.BQField, removed map[string]bool) {
	liveBy := make(map[string]typemap.BQField, len(live))
	for _, f := range live {
		liveBy[f.Name] = f
	}
	wanted := make(map[string]bool, len(want))
	for _, w := range want {
		wanted[w.Name] = true
		p := prefix + w.Name
		path := "schema." + p
		l, ok := liveBy[w.Name]
		if !ok {
			td.entries = append(td.entries, sink.DiffEntry{Path: path, To: column(w)})
			if mode(w) == typemap.BQRequired {
				td.breaking = append(td.breaking, fmt.Sprintf("new column %s is REQUIRED (existing rows have no value)", p))
			}
			continue
		}
		wt, lt := typemap.CanonicalBQType(w.Type), typemap.CanonicalBQType(l.Type)
		if wt != lt {
			td.entries = append(td.entries, sink.DiffEntry{Path: path + ".type", From: lt, To: wt})
			td.breaking = append(td.breaking, fmt.Sprintf("column %s type %s → %s", p, lt, wt))
			continue // a changed type makes the nested comparison meaningless
		}
		if wm, lm := mode(w), mode(l); wm != lm {
			td.entries = append(td.entries, sink.DiffEntry{Path: path + ".mode", From: lm, To: wm})
			if lm != typemap.BQRequired || wm != typemap.BQNullable {
				td.breaking = append(td.breaking, fmt.Sprintf("column %s mode %s → %s", p, lm, wm))
			}
		}
		if w.Description != l.Description {
			td.entries = append(td.entries, sink.DiffEntry{Path: path + ".description", From: l.Description, To: w.Description})
		}
		if wt == typemap.BQRecord {
			compareFields(td, p+".", w.Fields, l.Fields, removed)
		}
	}
	for _, l := range live {
		if wanted[l.Name] {
			continue
		}
		p := prefix + l.Name
		td.entries = append(td.entries, sink.DiffEntry{Path: "schema." + p, From: column(l), To: ""})
		if removed[p] {
			td.breaking = append(td.breaking, fmt.Sprintf("column %s was removed from the contract", p))
		} else {
			td.extra = append(td.extra, p)
		}
	}
}

func mode(f typemap.BQField) string {
	if f.Mode == "" {
		return typemap.BQNullable
	}
	return strings.ToUpper(f.Mode)
}

// column renders a column for a diff: "STRING NULLABLE", "RECORD REPEATED".
func column(f typemap.BQField) string { return typemap.CanonicalBQType(f.Type) + " " + mode(f) }

func partition(p Partition) string {
	if p.Field == "" {
		return ""
	}
	return p.Type + "(" + p.Field + ")"
}
