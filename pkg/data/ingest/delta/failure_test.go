package delta_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/data/ingest/delta"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

const testGroup = "evctl.local.ingest.delta"

// metric reads one sample of the worker's /metrics ("" when absent).
func metric(t testing.TB, r *running, series string) string {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func get(t testing.TB, r *running, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCorruptRecordsGoToDLQ: records that cannot be decoded go to <topic>.dlq with the reason
// and their origin; the partition goes on past them.
func TestCorruptRecordsGoToDLQ(t *testing.T) {
	f := newFixture(t, 1)
	good := values(t, f.md, 0, 6)
	noID := dynamicpb.NewMessage(f.md)
	noID.Set(f.md.Fields().ByName("s"), protoreflect.ValueOfString("no event_id"))
	missing, _ := proto.Marshal(noID)
	f.produce(t, f.sha, good[:3])
	f.produce(t, f.sha, [][]byte{{0xff, 0xff, 0xff}}) // not protobuf
	f.produce(t, f.sha, [][]byte{missing})            // lacks a required field
	f.produce(t, strings.Repeat("ab", 32), [][]byte{good[3]})
	f.produce(t, "", [][]byte{good[4]}) // an empty evctl-schema header
	f.produce(t, f.sha, good[3:])
	r := start(t, f.spec(testGroup))
	waitFor(t, "the good records in the table", func() bool { return f.caughtUp(t, testGroup) })
	if got := metric(t, r, `evctl_worker_dlq_total{topic="`+f.topic+`"}`); got != "4" {
		t.Errorf("dlq metric = %q, want 4", got)
	}
	r.stop()
	rows := f.duck(t, "SELECT count(*) AS n FROM t")
	if fmt.Sprint(rows[0]["n"]) != "6" {
		t.Errorf("table rows = %v, want 6", rows[0]["n"])
	}
	cl := f.client(t, kgo.ConsumeTopics(worker.DLQTopic(f.topic)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var dlq []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(dlq) < 4 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { dlq = append(dlq, r) })
	}
	wantReasons := []string{"malformed", "required field t.v1.M.event_id is missing", "schema not in the descriptor store", "no evctl-schema header"}
	if len(dlq) != len(wantReasons) {
		t.Fatalf("%d DLQ records, want %d", len(dlq), len(wantReasons))
	}
	for i, r := range dlq {
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		if !strings.Contains(h[worker.HeaderDLQReason], wantReasons[i]) {
			t.Errorf("DLQ record %d reason %q, want it to mention %q", i, h[worker.HeaderDLQReason], wantReasons[i])
		}
		if h[worker.HeaderDLQWorker] != "ingest/delta" || h[worker.HeaderDLQTopic] != f.topic || h[worker.HeaderDLQPartition] != "0" ||
			h[worker.HeaderDLQOffset] != fmt.Sprint(3+i) || h[worker.HeaderEvent] != eventID {
			t.Errorf("DLQ record %d headers %v", i, h)
		}
	}
}

// TestSinkDownBacksOff takes the lake away (its directory replaced by a file, so every write
// fails) while records arrive, then brings it back: the worker retries with backoff, skips
// nothing and writes everything once.
func TestSinkDownBacksOff(t *testing.T) {
	f := newFixture(t, 2)
	f.produce(t, f.sha, values(t, f.md, 0, 100))
	r := start(t, f.spec(testGroup))
	waitFor(t, "the first records", func() bool { return f.caughtUp(t, testGroup) })
	away := f.lakeDir + ".away"
	if err := os.Rename(f.lakeDir, away); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.lakeDir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.produce(t, f.sha, values(t, f.md, 100, 100))
	waitFor(t, "failed flushes while the lake is down", func() bool {
		v := metric(t, r, "evctl_worker_flush_errors_total")
		return v != "" && v != "0"
	})
	if got := metric(t, r, `evctl_worker_waiting{on="sink"}`); got != "1" {
		t.Errorf("waiting on sink = %q, want 1 while the lake is down", got)
	}
	if code, body := get(t, r, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "sink") {
		t.Errorf("/readyz while the lake is down: %d %q, want 503 naming the sink", code, body)
	}
	if code, _ := get(t, r, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while the lake is down: %d, want 200 (alive, only not ready)", code)
	}
	if err := os.Remove(f.lakeDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(away, f.lakeDir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the records after the lake came back", func() bool { return f.caughtUp(t, testGroup) })
	waitFor(t, "ready again", func() bool { code, _ := get(t, r, "/readyz"); return code == http.StatusOK })
	r.stop()
	checkExactlyOnce(t, f, 200)
}

// TestNewFieldPausesUntilApply: records of a schema with a field the table lacks pause their
// partition (nothing dropped, the metric says so) until the column is added.
func TestNewFieldPausesUntilApply(t *testing.T) {
	f := newFixture(t, 1)
	md2, set2 := compile(t, "optional string extra = 30;")
	f.publish(t, set2, md2)
	f.produce(t, f.sha, values(t, f.md, 0, 5))
	v2 := values(t, md2, 5, 5)
	for i := range v2 {
		m := dynamicpb.NewMessage(md2)
		if err := proto.Unmarshal(v2[i], m); err != nil {
			t.Fatal(err)
		}
		m.Set(md2.Fields().ByName("extra"), protoreflect.ValueOfString("new"))
		v2[i], _ = proto.Marshal(m)
	}
	f.produce(t, sha(set2), v2)
	r := start(t, f.spec(testGroup))
	paused := `evctl_worker_partition_paused{partition="0",topic="` + f.topic + `"}`
	waitFor(t, "the partition to pause", func() bool { return metric(t, r, paused) == "1" })
	if rows := f.duck(t, "SELECT count(*) AS n FROM t"); fmt.Sprint(rows[0]["n"]) != "5" {
		t.Fatalf("rows before the column exists = %v, want the 5 old-schema records", rows[0]["n"])
	}
	f.evolve(t, md2) // what evctl apply does
	waitFor(t, "the paused records after the column was added", func() bool { return f.caughtUp(t, testGroup) })
	if got := metric(t, r, paused); got != "0" {
		t.Errorf("paused = %q after resuming, want 0", got)
	}
	r.stop()
	rows := f.duck(t, "SELECT count(*) AS n, count(extra) AS x FROM t")
	if got := fmt.Sprint(rows[0]["n"], " ", rows[0]["x"]); got != "10 5" {
		t.Errorf("rows, rows with extra = %s, want 10 5", got)
	}
}

// handlerFor is a Delta handler writing the fixture's table, driven directly (no Kafka).
func handlerFor(t testing.TB, f *fixture) *delta.Handler {
	t.Helper()
	h, err := delta.NewHandler(delta.Config{Group: testGroup, Tables: []delta.TableConfig{{Event: eventID, Topic: f.topic,
		Store: f.store(t, f.lakeDir), Location: f.location, Flush: time.Hour, MaxRows: 1 << 30}}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func feed(t testing.TB, f *fixture, h *delta.Handler, part int32, from, to int) {
	t.Helper()
	ctx := context.Background()
	sc := &worker.Schema{SHA256: f.sha, Event: eventID, Message: f.md}
	for off := from; off < to; off++ {
		rec := &worker.Record{Record: &kgo.Record{Topic: f.topic, Partition: part, Offset: int64(off), Value: value(t, f.md, int(part)*100000+off)}, Schema: sc}
		if err := h.Handle(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentWritersOneTable: writers of different partitions commit to one table at once;
// every lost race is retried at the next version and every row lands once.
func TestConcurrentWritersOneTable(t *testing.T) {
	f := newFixture(t, 4)
	const writers, rounds, per = 4, 5, 50
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := 0; w < writers; w++ {
		h := handlerFor(t, f)
		if _, err := h.Assigned(context.Background(), []worker.TopicPartition{{Topic: f.topic, Partition: int32(w)}}); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				feed(t, f, h, int32(w), r*per, (r+1)*per)
				if _, err := h.Flush(context.Background(), true); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	rows := f.duck(t, "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM t")
	if got := fmt.Sprint(rows[0]["n"], " ", rows[0]["ids"]); got != fmt.Sprint(writers*rounds*per, " ", writers*rounds*per) {
		t.Errorf("rows, ids = %s, want %d each", got, writers*rounds*per)
	}
}

// TestZombieWriterRewinds: two writers both believe they own a partition (one was replaced
// after a session timeout); the one that commits second sees the other's txn covering its
// offsets, drops its buffer and rewinds instead of writing them twice.
func TestZombieWriterRewinds(t *testing.T) {
	f := newFixture(t, 1)
	tp := []worker.TopicPartition{{Topic: f.topic, Partition: 0}}
	a, b := handlerFor(t, f), handlerFor(t, f)
	for _, h := range []*delta.Handler{a, b} {
		if _, err := h.Assigned(context.Background(), tp); err != nil {
			t.Fatal(err)
		}
	}
	feed(t, f, a, 0, 0, 10)
	feed(t, f, b, 0, 5, 15)
	if _, err := a.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	_, err := b.Flush(context.Background(), true)
	var rw *worker.RewindError
	if !errors.As(err, &rw) {
		t.Fatalf("second writer's flush: %v, want a RewindError", err)
	}
	pos, err := b.Assigned(context.Background(), tp)
	if err != nil || pos[tp[0]] != 10 {
		t.Fatalf("position after rewind = %v (%v), want 10", pos, err)
	}
	feed(t, f, b, 0, 10, 15)
	if _, err := b.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	rows := f.duck(t, "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM t")
	if got := fmt.Sprint(rows[0]["n"], " ", rows[0]["ids"]); got != "15 15" {
		t.Errorf("rows, ids = %s, want 15 15", got)
	}
}

// TestBatchModeCommitsOncePerCadence: in batch mode files are written as records arrive but
// stay invisible (no commit) until the cadence, or the worker's stop, commits them at once.
func TestBatchModeCommitsOncePerCadence(t *testing.T) {
	f := newFixture(t, 2)
	f.produce(t, f.sha, values(t, f.md, 0, 60))
	spec := f.spec(testGroup)
	spec.Batch, spec.Cadence, spec.MaxRows = true, time.Hour, 10
	r := start(t, spec)
	waitFor(t, "data files written ahead of the commit", func() bool {
		files, _ := filepath.Glob(filepath.Join(f.lakeDir, f.location, "*.parquet"))
		return len(files) >= 1
	})
	if vs := f.versions(t); len(vs) != 1 {
		t.Fatalf("log versions %v before the cadence, want only the table's creation", vs)
	}
	if rows := f.duck(t, "SELECT 1"); len(rows) != 1 || rows[0]["files"] != float64(0) {
		t.Fatalf("a reader sees %v before the commit, want no files", rows)
	}
	r.stop() // a stop commits what was written, as a cadence would
	if vs := f.versions(t); len(vs) != 2 {
		t.Fatalf("log versions %v after the stop, want one batch commit", vs)
	}
	checkExactlyOnce(t, f, 60)
}

// TestCompact: many small commits are rewritten into one file per partition (remove + add,
// dataChange false); DuckDB reads the same rows from the compacted table, and the txn versions
// are kept.
func TestCompact(t *testing.T) {
	f := newFixture(t, 1, "event_date")
	h := handlerFor(t, f)
	tp := []worker.TopicPartition{{Topic: f.topic, Partition: 0}}
	if _, err := h.Assigned(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 6; r++ {
		feed(t, f, h, 0, r*10, (r+1)*10)
		if _, err := h.Flush(context.Background(), true); err != nil {
			t.Fatal(err)
		}
	}
	before := f.duck(t, "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, sum(i32) AS s FROM t")
	res, err := delta.Compact(context.Background(), f.store(t, f.lakeDir), f.location, delta.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || res.Removed != 18 || res.Rows != 60 { // 3 event_dates × 6 commits
		t.Errorf("compaction %+v, want 18 files into 3, 60 rows", res)
	}
	snap, err := deltalog.Read(context.Background(), f.store(t, f.lakeDir), f.location)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Files) != 3 || snap.Txns[testGroup+"/"+f.topic+"/0"] != 59 {
		t.Errorf("after compaction: %d live files, txns %v", len(snap.Files), snap.Txns)
	}
	after := f.duck(t, "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, sum(i32) AS s FROM t")
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("DuckDB before %v, after %v", before, after)
	}
	checkStats(t, f, 60+60) // the rewritten files' stats add up to the rows again
	again, err := delta.Compact(context.Background(), f.store(t, f.lakeDir), f.location, delta.CompactOptions{})
	if err != nil || !again.Nothing {
		t.Errorf("second compaction %+v, %v; want nothing to do", again, err)
	}
}
