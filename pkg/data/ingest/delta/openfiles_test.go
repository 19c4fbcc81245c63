package delta_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/data/ingest/delta"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// TestOpenFilesBoundedAcrossTables: a worker whose input spans more tables than MaxOpenFiles
// allows open files writes them all out at the next flush, ahead of their commits (none is
// due: the flush interval is an hour), so its memory does not grow with the number of event
// types. Nothing is committed early; the final flush commits every table once, and DuckDB reads
// every row of every table once.
func TestOpenFilesBoundedAcrossTables(t *testing.T) {
	lake := t.TempDir()
	md, set := compile(t, "")
	var fs []*fixture
	var tables []delta.TableConfig
	for i := range 3 {
		f := &fixture{lakeDir: lake, location: fmt.Sprintf("feed/open_%d_v1", i), topic: fmt.Sprintf("t%d", i), partitions: 1,
			md: md, sha: sha(set)} // unpartitioned: one open file per table
		f.createTable(t, md)
		fs = append(fs, f)
		tables = append(tables, delta.TableConfig{Event: eventID, Topic: f.topic, Store: f.store(t, lake), Location: f.location,
			Flush: time.Hour, MaxRows: 1 << 30})
	}
	h, err := delta.NewHandler(delta.Config{Group: testGroup, Tables: tables, MaxOpenFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var tps []worker.TopicPartition
	for _, f := range fs {
		tps = append(tps, worker.TopicPartition{Topic: f.topic, Partition: 0})
	}
	if _, err := h.Assigned(ctx, tps); err != nil {
		t.Fatal(err)
	}
	dataFiles := func(f *fixture) int {
		t.Helper()
		n := 0
		err := filepath.WalkDir(filepath.Join(lake, f.location), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
				n++
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	feed(t, fs[0], h, 0, 0, 100)
	feed(t, fs[1], h, 0, 0, 100)
	if h.FlushDue(time.Now()) {
		t.Fatal("flush due with 2 open files, MaxOpenFiles 2")
	}
	feed(t, fs[2], h, 0, 0, 100)
	if !h.FlushDue(time.Now()) {
		t.Fatal("flush not due with 3 open files, MaxOpenFiles 2")
	}
	if durable, err := h.Flush(ctx, false); err != nil || durable {
		t.Fatalf("flush past the open files: durable %v, err %v; want the files written, nothing committed", durable, err)
	}
	if h.FlushDue(time.Now()) {
		t.Fatal("flush still due after every open file was written out")
	}
	for _, f := range fs {
		waitFor(t, f.location+"'s file written ahead", func() bool { return dataFiles(f) == 1 })
		snap, err := deltalog.Read(ctx, tables[0].Store, f.location)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Txns) != 0 {
			t.Fatalf("%s committed offsets %v before its flush interval", f.location, snap.Txns)
		}
	}
	if durable, err := h.Flush(ctx, true); err != nil || !durable {
		t.Fatalf("final flush: durable %v, err %v", durable, err)
	}
	for _, f := range fs {
		snap, err := deltalog.Read(ctx, tables[0].Store, f.location)
		if err != nil {
			t.Fatal(err)
		}
		if v := snap.Txns[testGroup+"/"+f.topic+"/0"]; v != 99 {
			t.Fatalf("%s txn version %d, want 99", f.location, v)
		}
		agg := f.duck(t, "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM t")
		if fmt.Sprint(agg) != "[map[ids:100 n:100]]" {
			t.Fatalf("DuckDB read %v from %s, want 100 rows with 100 event_ids", agg, f.location)
		}
	}
}
