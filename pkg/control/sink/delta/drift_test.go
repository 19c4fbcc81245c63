package delta_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

const loc = "feed/video_played_v1"

func metaAction(t *testing.T, store blob.Store, mutate func(md *deltalog.Metadata)) deltalog.Action {
	t.Helper()
	snap, err := deltalog.Read(t.Context(), store, loc)
	if err != nil {
		t.Fatal(err)
	}
	md := snap.Metadata
	md.Configuration = map[string]string{}
	for k, v := range snap.Metadata.Configuration {
		md.Configuration[k] = v
	}
	mutate(&md)
	return deltalog.Action{MetaData: &md}
}

// TestDrift: what other writers do to a table shows in the plan.
func TestDrift(t *testing.T) {
	const body = `message M { optional int64 a = 1; }`
	cases := []struct {
		name   string
		change func(t *testing.T, store blob.Store)
		stage  string
		action sink.Action
		reason string
	}{
		{"table deleted", func(t *testing.T, store blob.Store) {
			store.Delete(t.Context(), deltalog.CommitKey(loc, 0), "")
		}, "staging", sink.Create, ""},
		{"column added by another writer", func(t *testing.T, store blob.Store) {
			handCommit(t, store, loc, 1, metaAction(t, store, func(md *deltalog.Metadata) {
				md.SchemaString = `{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{}},{"name":"foo","type":"string","nullable":true,"metadata":{}}]}`
			}))
		}, "prod", sink.Blocked, "column foo is in the table but not in the contract"},
		{"type changed by another writer", func(t *testing.T, store blob.Store) {
			handCommit(t, store, loc, 1, metaAction(t, store, func(md *deltalog.Metadata) {
				md.SchemaString = `{"type":"struct","fields":[{"name":"a","type":"string","nullable":true,"metadata":{}}]}`
			}))
		}, "staging", sink.Replace, "column a changes type from string to long"},
		{"ownership mark removed", func(t *testing.T, store blob.Store) {
			handCommit(t, store, loc, 1, metaAction(t, store, func(md *deltalog.Metadata) { delete(md.Configuration, "evctl.managed") }))
		}, "staging", sink.Blocked, "not managed by evctl"},
		{"marked for another event", func(t *testing.T, store blob.Store) {
			handCommit(t, store, loc, 1, metaAction(t, store, func(md *deltalog.Metadata) { md.Configuration["evctl.event"] = "x/y" }))
		}, "staging", sink.Blocked, `belongs to event "x/y"`},
		{"protocol upgraded past evctl", func(t *testing.T, store blob.Store) {
			handCommit(t, store, loc, 1, deltalog.Action{Protocol: &deltalog.Protocol{MinReaderVersion: 3, MinWriterVersion: 7,
				ReaderFeatures: []string{"catalogManaged"}, WriterFeatures: []string{"catalogManaged"}}})
		}, "staging", sink.Blocked, "catalogManaged"},
		{"log corrupted", func(t *testing.T, store blob.Store) {
			store.Put(t.Context(), deltalog.CommitKey(loc, 1), []byte(`{"add":{"pa`), blob.PutOpts{})
		}, "staging", sink.Blocked, "line 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := fileStore(t)
			s := newSink(store)
			converge(t, s, desired(spec(t, c.stage, body)), sink.Create)
			c.change(t, store)
			ch := plan(t, s, desired(spec(t, c.stage, body)))
			if ch.Action != c.action || !strings.Contains(ch.Reason, c.reason) {
				t.Errorf("%s (%s), want %s with %q", ch.Action, ch.Reason, c.action, c.reason)
			}
		})
	}
}

// TestWriterFeatures: additive changes to a table whose writer protocol evctl cannot honour,
// or that uses column mapping, are blocked with the reason; the golden column-mapping table is
// recognised as such.
func TestWriterFeatures(t *testing.T) {
	add := `message M { optional int64 a = 1; optional string b = 2; }`
	cases := []struct {
		name     string
		protocol deltalog.Protocol
		config   map[string]string
		reason   string
	}{
		{"column mapping name", deltalog.Protocol{MinReaderVersion: 2, MinWriterVersion: 5}, map[string]string{"delta.columnMapping.mode": "name"}, "column mapping (mode name)"},
		{"column mapping id feature", deltalog.Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{"columnMapping"}, WriterFeatures: []string{"columnMapping"}},
			map[string]string{"delta.columnMapping.mode": "id"}, "column mapping (mode id)"},
		{"in-commit timestamps", deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 7, WriterFeatures: []string{"inCommitTimestamp"}}, nil, "inCommitTimestamp"},
		{"writer version 8", deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 8}, nil, "writer version 8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := fileStore(t)
			s := newSink(store)
			converge(t, s, desired(spec(t, "staging", `message M { optional int64 a = 1; }`)), sink.Create)
			p := c.protocol
			handCommit(t, store, loc, 1, deltalog.Action{Protocol: &p}, metaAction(t, store, func(md *deltalog.Metadata) {
				for k, v := range c.config {
					md.Configuration[k] = v
				}
			}))
			ch := plan(t, s, desired(spec(t, "staging", add)))
			if ch.Action != sink.Blocked || !strings.Contains(ch.Reason, c.reason) {
				t.Errorf("%s (%s), want blocked with %q", ch.Action, ch.Reason, c.reason)
			}
			if err := s.Apply(t.Context(), sink.Change{Kind: ch.Kind, Name: ch.Name, Action: sink.Update, Desired: ch.Desired}); err == nil {
				t.Error("apply of an update to such a table: no error")
			}
		})
	}
}

// TestGoldenColumnMapping observes the Spark-written column-mapping table placed in the lake:
// recognised (mode name), and not evctl's.
func TestGoldenColumnMapping(t *testing.T) {
	src := "../../../../testdata/delta-golden/table-with-columnmapping-mode-name/_delta_log/00000000000000000000.json"
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("golden table missing (it is part of the repository): %v", err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(loc), "_delta_log"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(loc), "_delta_log", filepath.Base(src)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := blob.Open(t.Context(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	s := newSink(store)
	l := live(t, s)
	if l.ColumnMapping != "name" {
		t.Errorf("column mapping %q, want name", l.ColumnMapping)
	}
	ch := plan(t, s, desired(spec(t, "staging", `message M { optional int64 a = 1; }`)))
	if ch.Action != sink.Blocked || !strings.Contains(ch.Reason, "not managed by evctl") || ch.Observed.Managed {
		t.Errorf("%s (%s), want blocked: not managed", ch.Action, ch.Reason)
	}
}

// TestObserveErrors: a store that cannot be reached fails the whole Observe (the lake is one
// bucket); a problem with one table (a corrupt location pointer) is that table's Err only.
func TestObserveErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", "http://"+addr)
	down, err := blob.Open(t.Context(), "gs://lake-down/events")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d := desired(spec(t, "staging", `message M { optional int64 a = 1; }`))
	if _, err := newSink(down).Observe(ctx, []sink.Desired{d}); err == nil || !strings.HasPrefix(err.Error(), "delta: observe") {
		t.Errorf("unreachable store: error %v", err)
	}

	store := fileStore(t)
	if _, err := store.Put(t.Context(), "_evctl/locations/"+loc+".json", []byte("{"), blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	obs, err := newSink(store).Observe(t.Context(), []sink.Desired{d, {Kind: d.Kind, Name: "gs://other/t"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 2 || obs[0].Err == nil || !strings.Contains(obs[0].Err.Error(), "corrupt") || obs[1].Err == nil {
		t.Errorf("observations %+v", obs)
	}
}
