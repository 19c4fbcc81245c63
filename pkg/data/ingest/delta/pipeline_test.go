package delta_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/data/ingest/delta"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// TestCutCommitIsDurableOnlyOnceCommitted: a due streaming commit is cut and committed by a
// later flush once its files are written, while the next records are handled. Until then
// Durable holds the worker's offset commit back to the cut's first offset, then to the first
// offset of the records handled after the cut; the table's txn versions and DuckDB's read of
// the files agree with what was handled.
func TestCutCommitIsDurableOnlyOnceCommitted(t *testing.T) {
	f := &fixture{lakeDir: t.TempDir(), location: "feed/cut_v1", topic: "t", partitions: 1, partitionBy: []string{"event_date"}}
	md, set := compile(t, "")
	f.md, f.sha = md, sha(set)
	f.createTable(t, md)
	store := f.store(t, f.lakeDir)
	h, err := delta.NewHandler(delta.Config{Group: testGroup, Tables: []delta.TableConfig{{Event: eventID, Topic: f.topic,
		Store: store, Location: f.location, Flush: time.Nanosecond, MaxRows: 1 << 30}}}) // a commit is always due
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tp := worker.TopicPartition{Topic: f.topic, Partition: 0}
	if _, err := h.Assigned(ctx, []worker.TopicPartition{tp}); err != nil {
		t.Fatal(err)
	}
	held := func(want int64, ok bool) {
		t.Helper()
		got, has := h.Durable()[tp]
		if has != ok || got != want {
			t.Fatalf("Durable()[%v] = %d, %v; want %d, %v", tp, got, has, want, ok)
		}
	}
	txn := func() int64 {
		t.Helper()
		snap, err := deltalog.Read(ctx, store, f.location)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := snap.Txns[testGroup+"/"+f.topic+"/0"]
		if !ok {
			return -1
		}
		return v
	}

	feed(t, f, h, 0, 0, 3000)
	held(0, true)
	if durable, err := h.Flush(ctx, false); err != nil || durable {
		t.Fatalf("first flush: durable %v, err %v; want a cut, not durable yet", durable, err)
	}
	held(0, true) // cut, not committed
	if v := txn(); v != -1 {
		t.Fatalf("txn version %d before the cut was committed", v)
	}
	feed(t, f, h, 0, 3000, 5000)
	held(0, true)
	// The next flush commits the cut (its files are written by now or it waits for them) and
	// cuts the records handled since.
	if durable, err := h.Flush(ctx, false); err != nil || !durable {
		t.Fatalf("second flush: durable %v, err %v", durable, err)
	}
	if v := txn(); v != 2999 {
		t.Fatalf("txn version after the first commit = %d, want 2999", v)
	}
	held(3000, true)
	waitFor(t, "the second cut's files", func() bool { return h.FlushDue(time.Now()) })
	if durable, err := h.Flush(ctx, true); err != nil || !durable {
		t.Fatalf("final flush: durable %v, err %v", durable, err)
	}
	held(0, false)
	if v := txn(); v != 4999 {
		t.Fatalf("txn version after the final flush = %d, want 4999", v)
	}
	agg := f.duck(t, "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM t")
	if fmt.Sprint(agg) != "[map[ids:5000 n:5000]]" {
		t.Fatalf("DuckDB read %v, want 5000 rows with 5000 event_ids", agg)
	}
}

// TestRowGroupsOfALargeFile: a file of more than rowGroupRows rows (128k) ends a row group
// while its column workers write the next batches; DuckDB reads every row once.
func TestRowGroupsOfALargeFile(t *testing.T) {
	f := &fixture{lakeDir: t.TempDir(), location: "feed/large_v1", topic: "t", partitions: 1} // unpartitioned: one file
	md, set := compile(t, "")
	f.md, f.sha = md, sha(set)
	f.createTable(t, md)
	h := handlerFor(t, f)
	ctx := context.Background()
	if _, err := h.Assigned(ctx, []worker.TopicPartition{{Topic: f.topic}}); err != nil {
		t.Fatal(err)
	}
	const n = 140000
	feed(t, f, h, 0, 0, n)
	if _, err := h.Flush(ctx, true); err != nil {
		t.Fatal(err)
	}
	agg := f.duck(t, "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, count(DISTINCT filename) AS files FROM tf")
	if want := fmt.Sprintf("[map[files:1 ids:%d n:%d]]", n, n); fmt.Sprint(agg) != want {
		t.Fatalf("DuckDB read %v, want %s", agg, want)
	}
}
