package bigquery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	bq "cloud.google.com/go/bigquery"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
)

// ErrConflict is wrapped by Apply's error when the table changed between being read and being
// updated (BigQuery answered 412 to the etag precondition): nothing was overwritten; plan again.
var ErrConflict = errors.New("table changed since it was read")

// ErrNotManaged is wrapped by Apply's error when a delete or replace meets a table without the
// evctl-managed=true label: evctl never deletes what it did not mark as its own.
var ErrNotManaged = errors.New("table is not labelled " + LabelManaged + "=true")

// Apply executes one change:
//   - create: tables.insert with the schema, time partitioning, clustering, description and
//     labels, after creating the dataset if it is missing. A table that already exists exactly
//     as wanted (a repeated apply) is success; one that exists differently is an error.
//   - update: tables.patch of only what changed — the live schema with the new columns appended
//     (nested ones inside their record), relaxed modes and new descriptions (columns added by
//     hand are kept), the table description, evctl's labels — with the etag of the table as it
//     was observed as If-Match, so a concurrent change fails with ErrConflict instead of being
//     overwritten. An update that only reports hand-added columns makes no request.
//   - replace: delete then create (the engine only runs it with --allow-destroy).
//   - delete: tables.delete; a table already gone is success.
//
// delete and replace refuse (ErrNotManaged) a live table without evctl's label. Errors are
// prefixed "bigquery:" and wrap the API's *googleapi.Error.
func (s *TableSink) Apply(ctx context.Context, c sink.Change) error {
	switch c.Action {
	case sink.Create, sink.Update, sink.Replace:
		if c.Desired == nil {
			return fmt.Errorf("bigquery: %s table %s: change carries no desired spec", c.Action, c.Name)
		}
		want, err := tableSpec(c.Desired.Spec)
		if err != nil {
			return fmt.Errorf("bigquery: %s table %s: %w", c.Action, c.Name, err)
		}
		switch c.Action {
		case sink.Create:
			return s.create(ctx, want)
		case sink.Update:
			return s.update(ctx, want, c.Observed)
		default:
			if err := s.delete(ctx, want.ID()); err != nil {
				return err
			}
			return s.create(ctx, want)
		}
	case sink.Delete:
		return s.delete(ctx, c.Name)
	}
	return fmt.Errorf("bigquery: table %s: nothing to apply for action %q", c.Name, c.Action)
}

func (s *TableSink) create(ctx context.Context, want TableSpec) error {
	if err := s.c.ensureDataset(ctx, want.Project, want.Dataset); err != nil {
		return err
	}
	t := s.c.table(want.Project, want.Dataset, want.Table)
	err := t.Create(ctx, toMetadata(want))
	if err == nil {
		return nil
	}
	if !isStatus(err, http.StatusConflict) {
		return fmt.Errorf("bigquery: create table %s: %w", want.ID(), err)
	}
	md, err := t.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("bigquery: create table %s: it exists; reading it: %w", want.ID(), err)
	}
	if td := compare(want, fromMetadata(md).Spec); len(td.entries) > 0 {
		return fmt.Errorf("bigquery: create table %s: it already exists and differs (%s); plan again", want.ID(), describe(td.entries))
	}
	return nil
}

func (s *TableSink) update(ctx context.Context, want TableSpec, o *sink.Observed) error {
	t := s.c.table(want.Project, want.Dataset, want.Table)
	var live LiveTable
	if o != nil && o.Exists {
		live, _ = liveTable(o.Spec)
	}
	if live.ETag == "" {
		// A plan decoded from JSON carries no observation: read the table now, so the etag
		// still guards the window between this read and the patch.
		md, err := t.Metadata(ctx)
		if err != nil {
			return fmt.Errorf("bigquery: update table %s: read: %w", want.ID(), err)
		}
		live = fromMetadata(md)
	}
	td := compare(want, live.Spec)
	if len(td.breaking) > 0 {
		return fmt.Errorf("bigquery: update table %s: cannot change in place: %s; plan again", want.ID(), strings.Join(td.breaking, "; "))
	}
	tmu, changed := patch(want, live.Spec)
	if !changed {
		return nil
	}
	if _, err := t.Update(ctx, tmu, live.ETag); err != nil {
		if isStatus(err, http.StatusPreconditionFailed) {
			return fmt.Errorf("bigquery: update table %s: %w (etag %s); plan again: %w", want.ID(), ErrConflict, live.ETag, err)
		}
		return fmt.Errorf("bigquery: update table %s: %w", want.ID(), err)
	}
	return nil
}

// patch is the tables.patch body taking live to want in place; changed is false when there is
// nothing to send (equal, or only hand-added columns, which stay).
func patch(want, live TableSpec) (bq.TableMetadataToUpdate, bool) {
	var tmu bq.TableMetadataToUpdate
	changed := false
	merged := mergeSchema(live.Schema, want.Schema)
	if !reflect.DeepEqual(canonical(merged), canonical(live.Schema)) {
		tmu.Schema, changed = toSchema(merged), true
	}
	if want.Description != live.Description {
		tmu.Description, changed = want.Description, true
	}
	for k, v := range want.Labels {
		if lv, ok := live.Labels[k]; !ok || lv != v {
			tmu.SetLabel(k, v)
			changed = true
		}
	}
	return tmu, changed
}

// mergeSchema is live with want's in-place changes: live columns in their order (hand-added
// ones kept), each taking want's description and a REQUIRED→NULLABLE relax, nested records
// merged the same way, then want's new columns in want's order. BigQuery requires a patched
// schema to contain every existing column, so nothing live is ever left out.
func mergeSchema(live, want []typemap.BQField) []typemap.BQField {
	wantBy := make(map[string]typemap.BQField, len(want))
	for _, w := range want {
		wantBy[w.Name] = w
	}
	out := make([]typemap.BQField, 0, len(live)+len(want))
	have := make(map[string]bool, len(live))
	for _, l := range live {
		have[l.Name] = true
		w, ok := wantBy[l.Name]
		if !ok || typemap.CanonicalBQType(w.Type) != typemap.CanonicalBQType(l.Type) {
			out = append(out, l)
			continue
		}
		m := l
		m.Description = w.Description
		if mode(l) == typemap.BQRequired && mode(w) == typemap.BQNullable {
			m.Mode = typemap.BQNullable
		}
		if typemap.CanonicalBQType(l.Type) == typemap.BQRecord {
			m.Fields = mergeSchema(l.Fields, w.Fields)
		}
		out = append(out, m)
	}
	for _, w := range want {
		if !have[w.Name] {
			out = append(out, w)
		}
	}
	return out
}

func (s *TableSink) delete(ctx context.Context, id string) error {
	project, dataset, table, err := ParseTableID(id)
	if err != nil {
		return err
	}
	t := s.c.table(project, dataset, table)
	md, err := t.Metadata(ctx)
	switch {
	case isStatus(err, http.StatusNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("bigquery: delete table %s: read: %w", id, err)
	case md.Labels[LabelManaged] != "true":
		return fmt.Errorf("bigquery: delete table %s: %w; refusing", id, ErrNotManaged)
	}
	if err := t.Delete(ctx); err != nil && !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("bigquery: delete table %s: %w", id, err)
	}
	return nil
}

func describe(d []sink.DiffEntry) string {
	parts := make([]string, 0, len(d))
	for _, e := range d {
		parts = append(parts, fmt.Sprintf("%s %q → %q", e.Path, e.From, e.To))
	}
	return strings.Join(parts, ", ")
}
