package delta_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

const v1 = `message M {
  optional string video_id = 1 [(evctl.options.v1.required) = true];
  optional int64 watch_ms = 2;
  D device = 3;
  message D { optional string model = 1; }
` + platform + `}`

// v2 adds a nullable top-level column and a nullable nested one.
const v2 = `message M {
  optional string video_id = 1 [(evctl.options.v1.required) = true];
  optional int64 watch_ms = 2;
  D device = 3;
  message D { optional string model = 1; optional string os = 2; }
  repeated string tags = 4;
` + platform + `}`

// TestLifecycle: create, evolve by adding a nullable column and a nested one, re-read; on
// file:// and on gs:// (fake-gcs-server).
func TestLifecycle(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			store := b.open(t)
			s := newSink(store)
			want1 := spec(t, "staging", v1, "event_date")
			c := converge(t, s, desired(want1), sink.Create)
			if c.Diff[0] != (sink.DiffEntry{Path: "location", To: tableName}) {
				t.Errorf("create diff starts with %v", c.Diff[0])
			}

			// The commit is what Delta readers expect.
			raw, _, err := store.Get(t.Context(), "feed/video_played_v1/_delta_log/00000000000000000000.json")
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], `{"commitInfo":`) || lines[1] != `{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}` {
				t.Errorf("commit 0:\n%s", raw)
			}
			var md struct{ MetaData deltalog.Metadata }
			if err := json.Unmarshal([]byte(lines[2]), &md); err != nil {
				t.Fatal(err)
			}
			wantSchema, _ := delta.SchemaString(want1.Schema)
			if md.MetaData.SchemaString != wantSchema || md.MetaData.Format.Provider != "parquet" ||
				md.MetaData.Configuration["evctl.managed"] != "true" || md.MetaData.Configuration["evctl.event"] != event ||
				!cmp.Equal(md.MetaData.PartitionColumns, []string{"event_date"}) || md.MetaData.CreatedTime == nil || md.MetaData.ID == "" {
				t.Errorf("metaData = %+v", md.MetaData)
			}

			want2 := spec(t, "staging", v2, "event_date")
			c = converge(t, s, desired(want2), sink.Update)
			paths := []string{}
			for _, d := range c.Diff {
				paths = append(paths, d.Path)
			}
			if got := strings.Join(paths, " "); got != "schema.device.os schema.tags" {
				t.Errorf("update diff paths %q", got)
			}
			l := live(t, s)
			if l.Version != 1 || l.TableID != "00000000-0000-4000-8000-000000000001" {
				t.Errorf("after evolve: version %d, id %s", l.Version, l.TableID)
			}
			// Live columns keep their places; the new top-level column goes after event_date.
			names := []string{}
			for _, f := range l.Schema.Fields {
				names = append(names, f.Name)
			}
			if got := strings.Join(names, ","); got != "video_id,watch_ms,device,event_time,event_date,tags" {
				t.Errorf("columns %s", got)
			}
			dev, _ := fieldOf(l.Schema, "device")
			if got, _ := json.Marshal(dev.Type); string(got) != `{"type":"struct","fields":[{"name":"model","type":"string","nullable":true,"metadata":{}},{"name":"os","type":"string","nullable":true,"metadata":{}}]}` {
				t.Errorf("device = %s", got)
			}
			if facts := delta.Facts(sink.Observed{Exists: true, Spec: l}); facts["version"] != "1" || facts["location"] != tableName || len(facts["schema_sha256"]) != 64 {
				t.Errorf("facts %v", facts)
			}
			// Applying the same update again (a retried apply) writes nothing.
			if err := s.Apply(t.Context(), sink.Change{Kind: delta.Kind, Name: tableName, Action: sink.Update, Desired: ptr(desired(want2))}); err != nil {
				t.Fatal(err)
			}
			if got := live(t, s).Version; got != 1 {
				t.Errorf("repeated update wrote version %d", got)
			}
		})
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	s := newSink(fileStore(t))
	d := desired(spec(t, "staging", v1))
	c := plan(t, s, d)
	for i := 0; i < 2; i++ {
		if err := s.Apply(t.Context(), c); err != nil {
			t.Fatalf("create #%d: %v", i+1, err)
		}
	}
	// A create of another shape over it is refused, never a second version 0.
	other := desired(spec(t, "staging", v2))
	c.Desired = &other
	if err := s.Apply(t.Context(), c); err == nil || !strings.Contains(err.Error(), "another shape") {
		t.Errorf("create over a different table: %v", err)
	}
}

func fieldOf(st typemap.StructType, name string) (typemap.StructField, bool) {
	for _, f := range st.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return typemap.StructField{}, false
}

func ptr[T any](v T) *T { return &v }

// TestEvolveInsideCollections: a field added to a record held in a list and in a map value is
// additive, and the diff names where.
func TestEvolveInsideCollections(t *testing.T) {
	s := newSink(fileStore(t))
	converge(t, s, desired(spec(t, "prod", `message M { repeated R items = 1; map<string, R> m = 2; message R { optional int64 x = 1; } }`)), sink.Create)
	c := converge(t, s, desired(spec(t, "prod", `message M { repeated R items = 1; map<string, R> m = 2; message R { optional int64 x = 1; optional string z = 2; } }`)), sink.Update)
	var paths []string
	for _, d := range c.Diff {
		paths = append(paths, d.Path+"="+d.To)
	}
	if got := strings.Join(paths, " "); got != "schema.items.element.z=string schema.m.value.z=string" {
		t.Errorf("diff %s", got)
	}
	// A comment change alone is an in-place update too (for prod as well).
	c = converge(t, s, desired(spec(t, "prod", `message M { repeated R items = 1; map<string, R> m = 2; message R {
  // Ten times x.
  optional int64 x = 1;
  optional string z = 2; } }`)), sink.Update)
	if len(c.Diff) != 2 || c.Diff[0].Path != "schema.items.element.x.comment" || c.Diff[0].To != "Ten times x." {
		t.Errorf("comment diff %v", c.Diff)
	}
}
