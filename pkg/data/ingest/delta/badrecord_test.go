package delta_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// TestBadRecordsLeaveNoTrace: records are shredded straight into the open file's column
// batches, so a record refused halfway (some columns already written) must be taken back
// entirely. One table gets good records with bad ones between them (refused at the first, a
// middle and the last column, and one that alone would open a new partition's file); another
// gets only the good ones. DuckDB must read the same rows from both, and the first table must
// have no extra file.
func TestBadRecordsLeaveNoTrace(t *testing.T) {
	md, set := compile(t, "")
	mixed := &fixture{lakeDir: t.TempDir(), location: "feed/mixed_v1", topic: "t", partitions: 1, partitionBy: []string{"event_date"}, md: md, sha: sha(set)}
	clean := &fixture{lakeDir: t.TempDir(), location: "feed/clean_v1", topic: "t", partitions: 1, partitionBy: []string{"event_date"}, md: md, sha: sha(set)}
	bad := badRecords(t, md)
	good := values(t, md, 0, 60)
	for _, f := range []*fixture{mixed, clean} {
		f.createTable(t, md)
		h := handlerFor(t, f)
		ctx := context.Background()
		sc := &worker.Schema{SHA256: f.sha, Event: eventID, Message: md}
		if _, err := h.Assigned(ctx, []worker.TopicPartition{{Topic: "t"}}); err != nil {
			t.Fatal(err)
		}
		off := int64(0)
		handle := func(v []byte) error {
			off++
			return h.Handle(ctx, &worker.Record{Record: &kgo.Record{Topic: "t", Offset: off, Value: v}, Schema: sc})
		}
		for i, v := range good {
			if f == mixed {
				b := bad[i%len(bad)]
				var re *worker.RecordError
				if err := handle(b.value); !errors.As(err, &re) {
					t.Fatalf("%s: err = %v, want a RecordError", b.name, err)
				}
			}
			if err := handle(v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := h.Flush(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	const q = "SELECT * EXCLUDE (filename) FROM tf ORDER BY event_id"
	got, want := mixed.duck(t, q), clean.duck(t, q)
	if len(want) != len(good) {
		t.Fatalf("clean table has %d rows, want %d", len(want), len(good))
	}
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("row %d after bad records:\n got %v\nwant %v", i, got[i], want[i])
			}
		}
		t.Fatalf("%d rows after bad records, want %d", len(got), len(want))
	}
	files := func(f *fixture) int {
		snap, err := deltalog.Read(context.Background(), f.store(t, f.lakeDir), f.location)
		if err != nil {
			t.Fatal(err)
		}
		return len(snap.Files)
	}
	if m, c := files(mixed), files(clean); m != c {
		t.Errorf("%d data files with bad records, %d without: a refused record left a file", m, c)
	}
}

type badRecord struct {
	name  string
	value []byte
}

// badRecords are values refused after some of their columns were shredded (columns are in name
// order: b, by, counts, ..., event_id, event_time, ..., ws).
func badRecords(t *testing.T, md protoreflect.MessageDescriptor) []badRecord {
	full := value(t, md, 0) // every field set
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(full, m); err != nil {
		t.Fatal(err)
	}
	m.Clear(md.Fields().ByName("event_id"))
	noID, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	// The same on a day no good record has: alone it would open that partition's file.
	ts := dynamicpb.NewMessage(md.Fields().ByName("event_time").Message())
	ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(1_000_000_000))
	m.Set(md.Fields().ByName("event_time"), protoreflect.ValueOfMessage(ts))
	newDay, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	// ws (a StringValue, the last column) with invalid UTF-8: refused at the very end.
	var ws []byte
	ws = protowire.AppendTag(ws, 1, protowire.BytesType)
	ws = protowire.AppendBytes(ws, []byte{0xff, 0xfe})
	lastCol := protowire.AppendTag(append([]byte(nil), full...), 25, protowire.BytesType)
	lastCol = protowire.AppendBytes(lastCol, ws)
	// b (the first column) as a length-delimited value: refused at once.
	firstCol := protowire.AppendTag(append([]byte(nil), full...), 4, protowire.BytesType)
	firstCol = protowire.AppendBytes(firstCol, []byte{1})
	return []badRecord{{"missing event_id", noID}, {"missing event_id on a new day", newDay}, {"invalid UTF-8 in the last column", lastCol},
		{"wrong wire type in the first column", firstCol}}
}
