package deltalog_test

import (
	"os"
	"path/filepath"
	"testing"

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
