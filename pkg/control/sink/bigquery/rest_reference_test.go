package bigquery_test

// The evolution calls (tables.patch with an etag) are tested here against the request and
// response shapes of the BigQuery REST reference
// (https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/patch and the Table
// resource), served by an httptest server, NOT against a BigQuery server: goccy/bigquery-emulator
// v0.6.6 answers tables.patch with the new schema but does not persist it, and supports neither
// tables.update nor ALTER TABLE. Creation, reading and drift run on the real emulator
// (emulator_test.go).

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
)

// restTable is the REST reference's Table resource, the parts evctl reads and writes.
type restTable struct {
	Kind           string            `json:"kind,omitempty"`
	ETag           string            `json:"etag,omitempty"`
	ID             string            `json:"id,omitempty"`
	TableReference map[string]string `json:"tableReference,omitempty"`
	Schema         *restSchema       `json:"schema,omitempty"`
	Description    *string           `json:"description,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Location       string            `json:"location,omitempty"`
	// TimePartitioning and Clustering as the reference spells them.
	TimePartitioning map[string]string `json:"timePartitioning,omitempty"`
	Clustering       *struct {
		Fields []string `json:"fields"`
	} `json:"clustering,omitempty"`
}

type restSchema struct {
	Fields []typemap.BQField `json:"fields"`
}

// restRecorder is a tables.get / tables.patch endpoint holding one table, recording every
// request, answering 412 when If-Match is not the current etag.
type restRecorder struct {
	mu      sync.Mutex
	table   restTable
	methods []string
	ifMatch string
	body    map[string]json.RawMessage
}

func (r *restRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.methods = append(r.methods, req.Method)
	if !strings.HasSuffix(req.URL.Path, "/projects/p/datasets/d/tables/t") {
		restError(w, http.StatusNotFound, "notFound", "Not found: "+req.URL.Path)
		return
	}
	switch req.Method {
	case http.MethodGet:
	case http.MethodPatch:
		r.ifMatch = req.Header.Get("If-Match")
		b, _ := io.ReadAll(req.Body)
		r.body = map[string]json.RawMessage{}
		if err := json.Unmarshal(b, &r.body); err != nil {
			restError(w, http.StatusBadRequest, "invalid", err.Error())
			return
		}
		if r.ifMatch != "" && r.ifMatch != r.table.ETag {
			restError(w, http.StatusPreconditionFailed, "conditionNotMet", "Precondition check failed.")
			return
		}
		var patch restTable
		_ = json.Unmarshal(b, &patch)
		if patch.Schema != nil {
			r.table.Schema = patch.Schema
		}
		if patch.Description != nil {
			r.table.Description = patch.Description
		}
		for k, v := range patch.Labels {
			r.table.Labels[k] = v
		}
		r.table.ETag += "+"
	default:
		restError(w, http.StatusMethodNotAllowed, "invalid", req.Method)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(r.table)
}

// restError writes the REST reference's error body.
func restError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": msg, "errors": []map[string]string{{"message": msg, "domain": "global", "reason": reason}},
	}})
}

// nullableDefault fills in the mode the reference defaults to (NULLABLE) where it was omitted.
func nullableDefault(fs []typemap.BQField) []typemap.BQField {
	for i := range fs {
		if fs[i].Mode == "" {
			fs[i].Mode = "NULLABLE"
		}
		fs[i].Fields = nullableDefault(fs[i].Fields)
	}
	return fs
}

// restSink serves live (the table as it is) and returns a sink talking to it.
func restSink(t *testing.T, live bigquery.TableSpec, etag string) (*bigquery.TableSink, *restRecorder) {
	t.Helper()
	rec := &restRecorder{table: restTable{
		Kind: "bigquery#table", ETag: etag, ID: "p:d.t", Location: "US",
		TableReference: map[string]string{"projectId": "p", "datasetId": "d", "tableId": "t"},
		Schema:         &restSchema{Fields: live.Schema}, Description: &live.Description, Labels: live.Labels,
		TimePartitioning: map[string]string{"type": live.Partition.Type, "field": live.Partition.Field},
	}}
	rec.table.Clustering = &struct {
		Fields []string `json:"fields"`
	}{live.Clustering}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := bigquery.Connect(context.Background(), bigquery.Config{Project: "p", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return bigquery.NewTableSink(c), rec
}

// planOne diffs want against live as observed (with etag) and returns the single change.
func planOne(t *testing.T, want, live bigquery.TableSpec, etag string) sink.Change {
	t.Helper()
	d := sink.Desired{Event: "feed/t", Kind: bigquery.Kind, Name: want.ID(), Stage: "prod", Spec: want}
	o := sink.Observed{Kind: bigquery.Kind, Name: want.ID(), Exists: true, Managed: true,
		Spec: bigquery.LiveTable{Spec: live, ETag: etag}}
	cs, err := bigquery.Diff([]sink.Desired{d}, []sink.Observed{o})
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

func TestRESTReferenceAdditivePatchSendsMergedSchemaAndEtag(t *testing.T) {
	live := cloneSpec(baseSpec())
	live.Schema = append(live.Schema, f("by_hand", "STRING", "NULLABLE")) // added outside evctl
	delete(live.Labels, "evctl-stage")
	want := cloneSpec(baseSpec())
	want.Schema[0].Mode = "NULLABLE"                                                              // relax
	want.Schema[2].Fields = append(want.Schema[2].Fields, f("screen_dpi", "INTEGER", "NULLABLE")) // nested add
	want.Schema = append(want.Schema, f("watch_ms", "INTEGER", "NULLABLE"))                       // top-level add
	want.Description = "New."

	s, rec := restSink(t, live, `"etag-1"`)
	c := planOne(t, want, live, `"etag-1"`)
	if c.Action != sink.Update {
		t.Fatalf("action = %s (%s), want update", c.Action, c.Reason)
	}
	if err := s.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{http.MethodPatch}, rec.methods); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if rec.ifMatch != `"etag-1"` {
		t.Errorf("If-Match = %q, want the observed etag", rec.ifMatch)
	}
	var got struct {
		Schema      restSchema        `json:"schema"`
		Description string            `json:"description"`
		Labels      map[string]string `json:"labels"`
	}
	b, _ := json.Marshal(rec.body)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	model := f("model", "STRING", "NULLABLE")
	model.Description = "Model name."
	wantFields := []typemap.BQField{
		f("event_time", "TIMESTAMP", "NULLABLE"),
		f("user_id", "STRING", "NULLABLE"),
		f("device", "RECORD", "NULLABLE", model, f("screen_dpi", "INTEGER", "NULLABLE")),
		f("tags", "STRING", "REPEATED"),
		f("by_hand", "STRING", "NULLABLE"), // kept: a patch without it would drop it
		f("watch_ms", "INTEGER", "NULLABLE"),
	}
	if diff := cmp.Diff(wantFields, nullableDefault(got.Schema.Fields)); diff != "" {
		t.Errorf("patched schema (-want +got):\n%s", diff)
	}
	if got.Description != "New." {
		t.Errorf("patched description = %q", got.Description)
	}
	if diff := cmp.Diff(map[string]string{"evctl-stage": "staging"}, got.Labels); diff != "" {
		t.Errorf("patched labels: only the missing one is sent (-want +got):\n%s", diff)
	}
	for k := range rec.body {
		if k != "schema" && k != "description" && k != "labels" {
			t.Errorf("patch body carries %q; only what changed belongs in it", k)
		}
	}
}

func TestRESTReferencePatchConflict412(t *testing.T) {
	live := cloneSpec(baseSpec())
	want := cloneSpec(baseSpec())
	want.Schema = append(want.Schema, f("watch_ms", "INTEGER", "NULLABLE"))
	// The table changed after the plan read it: the server's etag moved on.
	s, rec := restSink(t, live, `"etag-2"`)
	err := s.Apply(context.Background(), planOne(t, want, live, `"etag-1"`))
	if !errors.Is(err, bigquery.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if !strings.HasPrefix(err.Error(), "bigquery: update table p.d.t: ") || !strings.Contains(err.Error(), "plan again") {
		t.Errorf("err = %q, want a bigquery: error telling to plan again", err)
	}
	if got := rec.table.Schema.Fields; len(got) != len(live.Schema) {
		t.Errorf("table was changed despite the conflict: %d columns", len(got))
	}
}

func TestRESTReferenceUpdateWithoutObservationReadsEtagFirst(t *testing.T) {
	live := cloneSpec(baseSpec())
	want := cloneSpec(baseSpec())
	want.Labels["evctl-owner-team"] = "payments"
	s, rec := restSink(t, live, `"etag-7"`)
	c := planOne(t, want, live, `"etag-7"`)
	c.Observed = nil // a plan decoded from JSON carries no observation
	if err := s.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{http.MethodGet, http.MethodPatch}, rec.methods); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if rec.ifMatch != `"etag-7"` {
		t.Errorf("If-Match = %q, want the etag just read", rec.ifMatch)
	}
}

func TestRESTReferenceHandAddedColumnOnlyMakesNoRequest(t *testing.T) {
	live := cloneSpec(baseSpec())
	live.Schema = append(live.Schema, f("by_hand", "STRING", "NULLABLE"))
	want := cloneSpec(baseSpec())
	s, rec := restSink(t, live, `"etag-1"`)
	c := planOne(t, want, live, `"etag-1"`)
	if c.Action != sink.Noop || len(c.Diff) != 1 {
		t.Fatalf("action = %s %v, want a noop keeping the diff (so drift sees the column)", c.Action, c.Diff)
	}
	// The engine never applies a noop; the sink refuses one rather than pretend.
	if err := s.Apply(context.Background(), c); err == nil {
		t.Fatal("a noop was applied")
	}
	if len(rec.methods) != 0 {
		t.Errorf("requests = %v, want none: there is nothing BigQuery can do in place", rec.methods)
	}
}
