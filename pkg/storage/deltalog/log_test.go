package deltalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

const schemaV0 = `{"type":"struct","fields":[{"name":"a","type":"long","nullable":true,"metadata":{}}]}`

func tempStore(t *testing.T) blob.Store {
	t.Helper()
	s, err := blob.Open(t.Context(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func gcsStore(t *testing.T) blob.Store {
	t.Helper()
	blobtest.FakeGCS(t, "lake")
	s, err := blob.Open(t.Context(), "gs://lake/tables")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func meta(schema string) *deltalog.Metadata {
	return &deltalog.Metadata{ID: "t-1", Format: deltalog.Format{Provider: "parquet"}, SchemaString: schema}
}

func add(path string) deltalog.Action {
	return deltalog.Action{Add: &deltalog.AddFile{Path: path, DataChange: true}}
}

// writeLog commits versions 0..n-1 of a table under table: version 0 creates it, version i>0
// adds file "f<i>".
func writeLog(t *testing.T, s blob.Store, table string, n int) {
	t.Helper()
	for v := 0; v < n; v++ {
		acts := []deltalog.Action{add(fmt.Sprintf("f%d", v))}
		if v == 0 {
			acts = append([]deltalog.Action{{Protocol: &deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}}, {MetaData: meta(schemaV0)}}, acts...)
		}
		if err := deltalog.Commit(t.Context(), s, table, int64(v), acts); err != nil {
			t.Fatal(err)
		}
	}
}

// writeCheckpoint writes rows as a parquet file at key.
func writeCheckpoint(t *testing.T, s blob.Store, key string, rows []deltalog.CheckpointRow) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[deltalog.CheckpointRow](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), key, buf.Bytes(), blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestMultiPartCheckpoint(t *testing.T) {
	ctx := t.Context()
	s := tempStore(t)
	writeLog(t, s, "t", 4) // versions 0-3, files f0..f3
	part1 := []deltalog.CheckpointRow{
		{Protocol: &deltalog.CheckpointProtocol{MinReaderVersion: ptr[int32](1), MinWriterVersion: ptr[int32](2)}},
		{MetaData: &deltalog.CheckpointMetadata{ID: ptr("t-1"), SchemaString: ptr(schemaV0), Format: &deltalog.CheckpointFormat{Provider: ptr("parquet")}}},
		{Add: &deltalog.CheckpointFile{Path: ptr("f0")}},
		{Add: &deltalog.CheckpointFile{Path: ptr("f1")}},
	}
	part2 := []deltalog.CheckpointRow{{Add: &deltalog.CheckpointFile{Path: ptr("f2")}}, {Add: &deltalog.CheckpointFile{Path: ptr("f3")}}}
	writeCheckpoint(t, s, "t/_delta_log/00000000000000000003.checkpoint.0000000001.0000000002.parquet", part1)
	writeCheckpoint(t, s, "t/_delta_log/00000000000000000003.checkpoint.0000000002.0000000002.parquet", part2)
	if _, err := s.Put(ctx, "t/_delta_log/_last_checkpoint", []byte(`{"version":3,"size":6,"parts":2}`), blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	// Metadata cleanup: commits before the checkpoint are gone, so only the checkpoint can
	// supply the protocol, the metadata and files f0-f2.
	for v := 0; v < 3; v++ {
		if err := s.Delete(ctx, deltalog.CommitKey("t", int64(v)), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := deltalog.Commit(ctx, s, "t", 4, []deltalog.Action{add("f4"), {Remove: &deltalog.RemoveFile{Path: "f0"}}}); err != nil {
		t.Fatal(err)
	}
	snap, err := deltalog.Read(ctx, s, "t")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != 4 || snap.Checkpoint != 3 || snap.NumFiles != 4 || snap.Metadata.ID != "t-1" {
		t.Errorf("snapshot: version %d, checkpoint %d, %d files, id %q; want 4, 3, 4, t-1", snap.Version, snap.Checkpoint, snap.NumFiles, snap.Metadata.ID)
	}

	// A checkpoint with a missing part must be ignored; with the early commits gone the log
	// then cannot be replayed, and says so.
	if err := s.Delete(ctx, "t/_delta_log/00000000000000000003.checkpoint.0000000002.0000000002.parquet", ""); err != nil {
		t.Fatal(err)
	}
	_, err = deltalog.Read(ctx, s, "t")
	if !errors.Is(err, deltalog.ErrCorrupt) || !strings.Contains(err.Error(), "no commit for version 0") {
		t.Errorf("incomplete checkpoint: error %v, want ErrCorrupt about version 0", err)
	}
}

func TestBadLogs(t *testing.T) {
	ctx := t.Context()
	cases := []struct {
		name   string
		setup  func(s blob.Store)
		target error
		msg    string
	}{
		{"missing log", func(s blob.Store) {}, deltalog.ErrNoTable, "no _delta_log"},
		{"data without log", func(s blob.Store) {
			s.Put(ctx, "t/part-0000.parquet", []byte("x"), blob.PutOpts{})
		}, deltalog.ErrCorrupt, "not a Delta table"},
		{"truncated line", func(s blob.Store) {
			writeLog(t, s, "t", 2)
			s.Put(ctx, "t/_delta_log/00000000000000000002.json", []byte(`{"add":{"path":"f2","partitionValues":{}}}`+"\n"+`{"add":{"path":"f3","size`), blob.PutOpts{})
		}, deltalog.ErrCorrupt, "00000000000000000002.json: line 2"},
		{"gap in versions", func(s blob.Store) {
			writeLog(t, s, "t", 4)
			s.Delete(ctx, deltalog.CommitKey("t", 2), "")
		}, deltalog.ErrCorrupt, "00000000000000000002.json is missing"},
		{"no metadata", func(s blob.Store) {
			deltalog.Commit(ctx, s, "t", 0, []deltalog.Action{{Protocol: &deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}}})
		}, deltalog.ErrCorrupt, "no protocol or metaData"},
		{"unknown reader feature", func(s blob.Store) {
			deltalog.Commit(ctx, s, "t", 0, []deltalog.Action{{Protocol: &deltalog.Protocol{MinReaderVersion: 3, MinWriterVersion: 7,
				ReaderFeatures: []string{"v2Checkpoint"}, WriterFeatures: []string{"v2Checkpoint"}}}, {MetaData: meta(schemaV0)}})
		}, deltalog.ErrUnsupported, "v2Checkpoint"},
		{"v2 checkpoint", func(s blob.Store) {
			writeLog(t, s, "t", 2)
			s.Put(ctx, "t/_delta_log/00000000000000000001.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json", []byte("{}"), blob.PutOpts{})
		}, deltalog.ErrUnsupported, "UUID-named"},
		{"bad schema", func(s blob.Store) {
			deltalog.Commit(ctx, s, "t", 0, []deltalog.Action{{Protocol: &deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}}, {MetaData: meta(`{"type":"array"}`)}})
		}, deltalog.ErrCorrupt, "schemaString"},
		{"garbage checkpoint", func(s blob.Store) {
			writeLog(t, s, "t", 2)
			s.Put(ctx, "t/_delta_log/00000000000000000001.checkpoint.parquet", []byte("not parquet"), blob.PutOpts{})
		}, deltalog.ErrCorrupt, "checkpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := tempStore(t)
			c.setup(s)
			_, err := deltalog.Read(ctx, s, "t")
			if !errors.Is(err, c.target) {
				t.Fatalf("error %v, want %v", err, c.target)
			}
			if !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), s.URL()+"/t") {
				t.Errorf("error %q should name the table and say %q", err, c.msg)
			}
		})
	}
}

func TestCommitRace(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) blob.Store{"file": tempStore, "gcs": gcsStore} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			writeLog(t, s, "t", 1)
			const writers = 8
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = deltalog.Commit(context.Background(), s, "t", 1, []deltalog.Action{add(fmt.Sprintf("w%d", i))})
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, deltalog.ErrConflict):
					t.Errorf("loser's error %v is not ErrConflict", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d writers committed version 1, want exactly 1", won)
			}
			snap, err := deltalog.Read(t.Context(), s, "t")
			if err != nil {
				t.Fatal(err)
			}
			if snap.Version != 1 || snap.NumFiles != 2 {
				t.Errorf("version %d with %d files, want 1 with 2", snap.Version, snap.NumFiles)
			}
		})
	}
}
