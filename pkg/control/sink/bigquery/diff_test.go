package bigquery_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
)

func f(name, typ, mode string, sub ...typemap.BQField) typemap.BQField {
	return typemap.BQField{Name: name, Type: typ, Mode: mode, Fields: sub}
}

// baseSpec is a small wanted table; every case below edits a deep copy of it.
func baseSpec() bigquery.TableSpec {
	model := f("model", "STRING", "NULLABLE")
	model.Description = "Model name."
	return bigquery.TableSpec{
		Project: "p", Dataset: "d", Table: "t",
		Schema: []typemap.BQField{
			f("event_time", "TIMESTAMP", "REQUIRED"),
			f("user_id", "STRING", "NULLABLE"),
			f("device", "RECORD", "NULLABLE", model),
			f("tags", "STRING", "REPEATED"),
		},
		Partition:   bigquery.Partition{Field: "event_time", Type: "DAY"},
		Clustering:  []string{"user_id"},
		Description: "A table.",
		Labels: map[string]string{"evctl-event": "feed-t", "evctl-owner-team": "growth",
			"evctl-stage": "staging", "evctl-managed": "true"},
		Removed: []string{"device.old_dpi", "old_name"},
	}
}

func cloneSpec(s bigquery.TableSpec) bigquery.TableSpec {
	var cp func([]typemap.BQField) []typemap.BQField
	cp = func(fs []typemap.BQField) []typemap.BQField {
		if fs == nil {
			return nil
		}
		out := make([]typemap.BQField, len(fs))
		for i, x := range fs {
			x.Fields = cp(x.Fields)
			out[i] = x
		}
		return out
	}
	s.Schema = cp(s.Schema)
	s.Clustering = append([]string(nil), s.Clustering...)
	labels := map[string]string{}
	for k, v := range s.Labels {
		labels[k] = v
	}
	s.Labels = labels
	return s
}

func TestDiffTransitions(t *testing.T) {
	add := func(fs *[]typemap.BQField, x typemap.BQField) { *fs = append(*fs, x) }
	tests := []struct {
		name string
		want func(*bigquery.TableSpec) // edits the wanted table
		live func(*bigquery.TableSpec) // edits the live table
		// the action for a staging table and for a prod table
		staging, prod sink.Action
		diff          []sink.DiffEntry
		reason        string // a substring of the staging reason
	}{
		{name: "equal", staging: sink.Noop, prod: sink.Noop},
		{name: "type aliases compare equal",
			live:    func(s *bigquery.TableSpec) { s.Schema[1].Type = "STRING"; s.Schema[0].Type = "timestamp" },
			staging: sink.Noop, prod: sink.Noop},
		{name: "someone else's label is ignored",
			live:    func(s *bigquery.TableSpec) { s.Labels["cost-center"] = "42" },
			staging: sink.Noop, prod: sink.Noop},
		{name: "new nullable column",
			want:    func(s *bigquery.TableSpec) { add(&s.Schema, f("watch_ms", "INTEGER", "NULLABLE")) },
			staging: sink.Update, prod: sink.Update,
			diff: []sink.DiffEntry{{Path: "schema.watch_ms", To: "INTEGER NULLABLE"}}},
		{name: "new repeated record column",
			want: func(s *bigquery.TableSpec) {
				add(&s.Schema, f("items", "RECORD", "REPEATED", f("sku", "STRING", "REQUIRED")))
			},
			staging: sink.Update, prod: sink.Update,
			diff: []sink.DiffEntry{{Path: "schema.items", To: "RECORD REPEATED"}}},
		{name: "new nested column",
			want:    func(s *bigquery.TableSpec) { add(&s.Schema[2].Fields, f("screen_dpi", "INTEGER", "NULLABLE")) },
			staging: sink.Update, prod: sink.Update,
			diff: []sink.DiffEntry{{Path: "schema.device.screen_dpi", To: "INTEGER NULLABLE"}}},
		{name: "required relaxed to nullable",
			want:    func(s *bigquery.TableSpec) { s.Schema[0].Mode = "NULLABLE" },
			staging: sink.Update, prod: sink.Update,
			diff: []sink.DiffEntry{{Path: "schema.event_time.mode", From: "REQUIRED", To: "NULLABLE"}}},
		{name: "column description",
			want:    func(s *bigquery.TableSpec) { s.Schema[2].Fields[0].Description = "The model." },
			staging: sink.Update, prod: sink.Update,
			diff: []sink.DiffEntry{{Path: "schema.device.model.description", From: "Model name.", To: "The model."}}},
		{name: "table description",
			want:    func(s *bigquery.TableSpec) { s.Description = "New." },
			staging: sink.Update, prod: sink.Update,
			diff: []sink.DiffEntry{{Path: "description", From: "A table.", To: "New."}}},
		{name: "label removed by hand",
			live:    func(s *bigquery.TableSpec) { delete(s.Labels, "evctl-stage") },
			staging: sink.Update, prod: sink.Update,
			diff: []sink.DiffEntry{{Path: "labels.evctl-stage", To: "staging"}}},
		{name: "label changed",
			want:    func(s *bigquery.TableSpec) { s.Labels["evctl-owner-team"] = "payments" },
			staging: sink.Update, prod: sink.Update,
			diff: []sink.DiffEntry{{Path: "labels.evctl-owner-team", From: "growth", To: "payments"}}},
		{name: "column added by hand is reported, not dropped",
			live:    func(s *bigquery.TableSpec) { add(&s.Schema, f("foo", "STRING", "NULLABLE")) },
			staging: sink.Noop, prod: sink.Noop,
			diff:   []sink.DiffEntry{{Path: "schema.foo", From: "STRING NULLABLE"}},
			reason: "column added outside evctl, kept"},
		{name: "nested column added by hand",
			live:    func(s *bigquery.TableSpec) { add(&s.Schema[2].Fields, f("os", "STRING", "NULLABLE")) },
			staging: sink.Noop, prod: sink.Noop,
			diff:   []sink.DiffEntry{{Path: "schema.device.os", From: "STRING NULLABLE"}},
			reason: "device.os"},
		{name: "new required column",
			want:    func(s *bigquery.TableSpec) { add(&s.Schema, f("app", "STRING", "REQUIRED")) },
			staging: sink.Replace, prod: sink.Blocked,
			diff:   []sink.DiffEntry{{Path: "schema.app", To: "STRING REQUIRED"}},
			reason: "new column app is REQUIRED"},
		{name: "nullable tightened to required",
			want:    func(s *bigquery.TableSpec) { s.Schema[1].Mode = "REQUIRED" },
			staging: sink.Replace, prod: sink.Blocked,
			diff:   []sink.DiffEntry{{Path: "schema.user_id.mode", From: "NULLABLE", To: "REQUIRED"}},
			reason: "column user_id mode NULLABLE → REQUIRED"},
		{name: "nullable to repeated",
			want:    func(s *bigquery.TableSpec) { s.Schema[1].Mode = "REPEATED" },
			staging: sink.Replace, prod: sink.Blocked,
			diff: []sink.DiffEntry{{Path: "schema.user_id.mode", From: "NULLABLE", To: "REPEATED"}}},
		{name: "type change",
			want:    func(s *bigquery.TableSpec) { s.Schema[1].Type = "INTEGER" },
			staging: sink.Replace, prod: sink.Blocked,
			diff:   []sink.DiffEntry{{Path: "schema.user_id.type", From: "STRING", To: "INTEGER"}},
			reason: "column user_id type STRING → INTEGER"},
		{name: "nested type change",
			want:    func(s *bigquery.TableSpec) { s.Schema[2].Fields[0].Type = "BYTES" },
			staging: sink.Replace, prod: sink.Blocked,
			diff: []sink.DiffEntry{{Path: "schema.device.model.type", From: "STRING", To: "BYTES"}}},
		{name: "column removed from the contract (reserved)",
			live:    func(s *bigquery.TableSpec) { add(&s.Schema, f("old_name", "STRING", "NULLABLE")) },
			staging: sink.Replace, prod: sink.Blocked,
			diff:   []sink.DiffEntry{{Path: "schema.old_name", From: "STRING NULLABLE"}},
			reason: "column old_name was removed from the contract"},
		{name: "nested column removed from the contract",
			live:    func(s *bigquery.TableSpec) { add(&s.Schema[2].Fields, f("old_dpi", "INTEGER", "NULLABLE")) },
			staging: sink.Replace, prod: sink.Blocked,
			diff: []sink.DiffEntry{{Path: "schema.device.old_dpi", From: "INTEGER NULLABLE"}}},
		{name: "partition type change",
			want:    func(s *bigquery.TableSpec) { s.Partition.Type = "HOUR" },
			staging: sink.Replace, prod: sink.Blocked,
			diff:   []sink.DiffEntry{{Path: "partition", From: "DAY(event_time)", To: "HOUR(event_time)"}},
			reason: "partitioning"},
		{name: "partitioning removed by hand",
			live:    func(s *bigquery.TableSpec) { s.Partition = bigquery.Partition{} },
			staging: sink.Replace, prod: sink.Blocked,
			diff: []sink.DiffEntry{{Path: "partition", To: "DAY(event_time)"}}},
		{name: "clustering change",
			want:    func(s *bigquery.TableSpec) { s.Clustering = []string{"user_id", "event_time"} },
			staging: sink.Replace, prod: sink.Blocked,
			diff:   []sink.DiffEntry{{Path: "clustering", From: "user_id", To: "user_id,event_time"}},
			reason: "clustering"},
	}
	for _, tt := range tests {
		for _, stage := range []string{"staging", "prod"} {
			t.Run(tt.name+"/"+stage, func(t *testing.T) {
				want, live := cloneSpec(baseSpec()), cloneSpec(baseSpec())
				if tt.want != nil {
					tt.want(&want)
				}
				if tt.live != nil {
					tt.live(&live)
				}
				d := sink.Desired{Event: "feed/t", Kind: bigquery.Kind, Name: want.ID(), Stage: stage, Spec: want}
				o := sink.Observed{Kind: bigquery.Kind, Name: want.ID(), Exists: true, Managed: true,
					Spec: bigquery.LiveTable{Spec: live, ETag: "e1"}}
				cs, err := bigquery.Diff([]sink.Desired{d}, []sink.Observed{o})
				if err != nil {
					t.Fatal(err)
				}
				c := cs[0]
				wantAction := tt.staging
				if stage == "prod" {
					wantAction = tt.prod
				}
				if c.Action != wantAction {
					t.Errorf("action = %s, want %s (reason %q)", c.Action, wantAction, c.Reason)
				}
				if diff := cmp.Diff(tt.diff, c.Diff); diff != "" {
					t.Errorf("diff entries (-want +got):\n%s", diff)
				}
				if stage == "staging" && !strings.Contains(c.Reason, tt.reason) {
					t.Errorf("reason = %q, want it to contain %q", c.Reason, tt.reason)
				}
				if c.Action == sink.Blocked && !strings.Contains(c.Reason, "prod table cannot change in place") {
					t.Errorf("blocked reason = %q, want the prod explanation", c.Reason)
				}
			})
		}
	}
}

func TestDiffExistence(t *testing.T) {
	s := baseSpec()
	tests := []struct {
		name   string
		d      sink.Desired
		o      sink.Observed
		action sink.Action
		reason string
	}{
		{"missing is created", sink.Desired{Name: s.ID(), Spec: s}, sink.Observed{Name: s.ID()}, sink.Create, ""},
		{"absent and live is deleted", sink.Desired{Name: s.ID(), Absent: true}, sink.Observed{Name: s.ID(), Exists: true}, sink.Delete, "removed from the repository"},
		{"absent and gone is noop", sink.Desired{Name: s.ID(), Absent: true}, sink.Observed{Name: s.ID()}, sink.Noop, ""},
		{"unreadable is blocked", sink.Desired{Name: s.ID(), Spec: s}, sink.Observed{Name: s.ID(), Err: errors.New("bigquery: read table: 403")}, sink.Blocked, "bigquery: read table: 403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := bigquery.Diff([]sink.Desired{tt.d}, []sink.Observed{tt.o})
			if err != nil {
				t.Fatal(err)
			}
			if cs[0].Action != tt.action || cs[0].Reason != tt.reason {
				t.Errorf("got %s %q, want %s %q", cs[0].Action, cs[0].Reason, tt.action, tt.reason)
			}
		})
	}

	cs, err := bigquery.Diff([]sink.Desired{{Name: s.ID(), Spec: s}}, []sink.Observed{{Name: s.ID()}})
	if err != nil {
		t.Fatal(err)
	}
	wantCreate := []sink.DiffEntry{
		{Path: "schema.event_time", To: "TIMESTAMP REQUIRED"}, {Path: "schema.user_id", To: "STRING NULLABLE"},
		{Path: "schema.device", To: "RECORD NULLABLE"}, {Path: "schema.tags", To: "STRING REPEATED"},
		{Path: "partition", To: "DAY(event_time)"}, {Path: "clustering", To: "user_id"},
		{Path: "description", To: "A table."},
		{Path: "labels.evctl-event", To: "feed-t"}, {Path: "labels.evctl-managed", To: "true"},
		{Path: "labels.evctl-owner-team", To: "growth"}, {Path: "labels.evctl-stage", To: "staging"},
	}
	if diff := cmp.Diff(wantCreate, cs[0].Diff); diff != "" {
		t.Errorf("create diff (-want +got):\n%s", diff)
	}
}

func TestDiffErrors(t *testing.T) {
	s := baseSpec()
	if _, err := bigquery.Diff([]sink.Desired{{Name: s.ID(), Spec: s}}, nil); err == nil || !strings.HasPrefix(err.Error(), "bigquery: ") {
		t.Errorf("unobserved table: err = %v, want a bigquery: error", err)
	}
	if _, err := bigquery.Diff([]sink.Desired{{Name: s.ID(), Spec: 42}}, []sink.Observed{{Name: s.ID()}}); err == nil {
		t.Error("spec of the wrong type: no error")
	}
	if _, err := bigquery.Diff([]sink.Desired{{Name: s.ID(), Spec: s}}, []sink.Observed{{Name: s.ID(), Exists: true, Spec: s}}); err == nil {
		t.Error("observed spec of the wrong type: no error")
	}
}
