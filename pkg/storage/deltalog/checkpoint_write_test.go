package deltalog_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// TestCheckpointKeepsTxnsAndFiles: a checkpoint written by WriteCheckpoint replays to the same
// live files and txn versions as the JSON commits, also once the commits it covers are gone.
func TestCheckpointKeepsTxnsAndFiles(t *testing.T) {
	dir := t.TempDir()
	store := openDir(t, dir)
	ctx := t.Context()
	commits := [][]deltalog.Action{
		{{Protocol: &deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}}, {MetaData: meta(schemaV0)}},
		{{Add: &deltalog.AddFile{Path: "d=1/a.parquet", PartitionValues: map[string]string{"d": "1"}, Size: 10, DataChange: true, Stats: `{"numRecords":3}`}},
			{Txn: &deltalog.Txn{AppID: "g/t/0", Version: 41}}},
		{{Add: &deltalog.AddFile{Path: "d=2/b.parquet", PartitionValues: map[string]string{"d": "2"}, Size: 20, DataChange: true}},
			{Remove: &deltalog.RemoveFile{Path: "d=1/a.parquet", DataChange: false}},
			{Txn: &deltalog.Txn{AppID: "g/t/0", Version: 99}}, {Txn: &deltalog.Txn{AppID: "g/t/1", Version: 7}}},
	}
	for v, c := range commits {
		if err := deltalog.Commit(ctx, store, "", int64(v), c); err != nil {
			t.Fatal(err)
		}
	}
	before, err := deltalog.Read(ctx, store, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"g/t/0": 99, "g/t/1": 7}; !cmp.Equal(before.Txns, want) {
		t.Fatalf("txns %v, want %v", before.Txns, want)
	}
	if len(before.Files) != 1 || before.Files[0].Path != "d=2/b.parquet" {
		t.Fatalf("files %+v", before.Files)
	}
	if err := deltalog.WriteCheckpoint(ctx, store, "", before); err != nil {
		t.Fatal(err)
	}
	for v := range commits {
		if err := os.Remove(filepath.Join(dir, deltalog.CommitKey("", int64(v)))); err != nil {
			t.Fatal(err)
		}
	}
	after, err := deltalog.Read(ctx, store, "")
	if err != nil {
		t.Fatal(err)
	}
	if after.Checkpoint != 2 {
		t.Fatalf("read from checkpoint %d, want 2", after.Checkpoint)
	}
	for i := range before.Files {
		before.Files[i].DataChange = false // checkpoints carry live files, not changes
	}
	opts := cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Checkpoint" }, cmp.Ignore())
	if d := cmp.Diff(before, after, opts); d != "" {
		t.Fatalf("checkpoint replay differs (-commits +checkpoint):\n%s", d)
	}
}

func openDir(t *testing.T, dir string) blob.Store {
	t.Helper()
	s, err := blob.Open(t.Context(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCheckpointKeepsUnexpiredTombstones: a checkpoint carries the remove tombstones within the
// table's deletedFileRetentionDuration (and those without a timestamp), not the expired ones
// nor those of files added again, as the Delta protocol asks.
func TestCheckpointKeepsUnexpiredTombstones(t *testing.T) {
	for _, tc := range []struct {
		name, retention string
		want            []string
	}{
		{"default week", "", []string{"fresh.parquet", "untimed.parquet"}},
		{"two hours", "interval 2 hours", []string{"fresh.parquet", "untimed.parquet"}},
		{"thirty minutes", "interval 30 minutes", []string{"untimed.parquet"}},
		{"sixty days", "interval 60 days", []string{"fresh.parquet", "old.parquet", "untimed.parquet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			store := openDir(t, dir)
			ctx := t.Context()
			now := time.Now()
			ms := func(d time.Duration) *int64 { v := now.Add(-d).UnixMilli(); return &v }
			m := meta(schemaV0)
			if tc.retention != "" {
				m.Configuration = map[string]string{"delta.deletedFileRetentionDuration": tc.retention}
			}
			add := func(p string) deltalog.Action {
				return deltalog.Action{Add: &deltalog.AddFile{Path: p, PartitionValues: map[string]string{}, Size: 1, DataChange: true}}
			}
			size := int64(1)
			commits := [][]deltalog.Action{
				{{Protocol: &deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}}, {MetaData: m}},
				{add("fresh.parquet"), add("old.parquet"), add("untimed.parquet"), add("back.parquet"), add("live.parquet")},
				{{Remove: &deltalog.RemoveFile{Path: "fresh.parquet", DeletionTimestamp: ms(time.Hour), DataChange: true, ExtendedFileMetadata: true, Size: &size}},
					{Remove: &deltalog.RemoveFile{Path: "old.parquet", DeletionTimestamp: ms(30 * 24 * time.Hour), DataChange: true}},
					{Remove: &deltalog.RemoveFile{Path: "untimed.parquet", DataChange: true}},
					{Remove: &deltalog.RemoveFile{Path: "back.parquet", DeletionTimestamp: ms(time.Minute), DataChange: true}}},
				{add("back.parquet")},
			}
			for v, c := range commits {
				if err := deltalog.Commit(ctx, store, "", int64(v), c); err != nil {
					t.Fatal(err)
				}
			}
			snap, err := deltalog.Read(ctx, store, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := deltalog.WriteCheckpoint(ctx, store, "", snap); err != nil {
				t.Fatal(err)
			}
			for v := range commits {
				if err := os.Remove(filepath.Join(dir, deltalog.CommitKey("", int64(v)))); err != nil {
					t.Fatal(err)
				}
			}
			after, err := deltalog.Read(ctx, store, "")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range after.Tombstones {
				got = append(got, r.Path)
				if r.Path == "fresh.parquet" && (!r.ExtendedFileMetadata || r.Size == nil || *r.Size != 1 || *r.DeletionTimestamp != *ms(time.Hour)) {
					t.Errorf("fresh.parquet tombstone lost its fields: %+v", r)
				}
			}
			if !cmp.Equal(got, tc.want) {
				t.Errorf("tombstones in the checkpoint = %v, want %v", got, tc.want)
			}
			if len(after.Files) != 2 {
				t.Errorf("live files %d, want 2 (back, live)", len(after.Files))
			}
		})
	}
}
