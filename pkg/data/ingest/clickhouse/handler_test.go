package clickhouse_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
	ingest "github.com/evctl/evctl/pkg/data/ingest/clickhouse"
	"github.com/evctl/evctl/pkg/data/worker"
)

// TestHandlerAsTheWorkerCallsIt drives the worker's callbacks by hand (records as the worker
// hands them over, no Kafka): positions, a record the table cannot hold yet pauses, a bad one
// goes to the DLQ, a flush writes, and a new handler (a restart) resumes after what was written.
func TestHandlerAsTheWorkerCallsIt(t *testing.T) {
	srv := chtest.Start(t)
	ctx := context.Background()
	c, err := chhttp.New(srv.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	md := viewedMessage()
	provision(t, srv.URL, md)
	newer, err := chtest.CompileMessage(strings.Replace(viewedProto, "optional string pad = 3;", "optional string pad = 3;\n  optional string country = 4;", 1), "ProfileViewed")
	if err != nil {
		t.Fatal(err)
	}
	newHandler := func() *ingest.Handler {
		w, err := ingest.New(ctx, c, "events")
		if err != nil {
			t.Fatal(err)
		}
		h, err := ingest.NewHandler(ingest.HandlerConfig{Writer: w, Client: c, Database: "events",
			Features: typemap.CHFeaturesFor("18.16"), Tables: map[string]string{topic: table}, MaxRows: 10})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	record := func(md protoreflect.MessageDescriptor, o int64) *worker.Record {
		v, err := proto.Marshal(event(md, o, ""))
		if err != nil {
			t.Fatal(err)
		}
		return &worker.Record{Record: &kgo.Record{Topic: topic, Partition: 0, Offset: o, Value: v},
			Schema: &worker.Schema{SHA256: "test", Event: "identity/profile_viewed", Message: md}}
	}
	h := newHandler()
	tp := worker.TopicPartition{Topic: topic, Partition: 0}
	pos, err := h.Assigned(ctx, []worker.TopicPartition{tp})
	if err != nil || len(pos) != 0 {
		t.Fatalf("fresh table: positions %v, %v (want none: the group's offset)", pos, err)
	}
	for o := int64(0); o < 10; o++ {
		if err := h.Handle(ctx, record(md, o)); err != nil {
			t.Fatal(err)
		}
	}
	var we *worker.WaitError
	if err := h.Handle(ctx, record(newer, 10)); !errors.As(err, &we) || !strings.Contains(we.Reason, "country") {
		t.Fatalf("a record with a column the table lacks: %v, want a WaitError naming it", err)
	}
	bad := record(md, 10)
	bad.Value = []byte{0xff, 0xff}
	var re *worker.RecordError
	if err := h.Handle(ctx, bad); !errors.As(err, &re) {
		t.Fatalf("an undecodable record: %v, want a RecordError", err)
	}
	if !h.FlushDue(timeNow()) {
		t.Fatal("not due at max_rows")
	}
	if durable, err := h.Flush(ctx, false); err != nil || !durable {
		t.Fatalf("flush: %v %v", durable, err)
	}
	if n := count(t, c, "SELECT count() AS n FROM events."+table); n != 10 {
		t.Fatalf("%d rows, want 10", n)
	}
	if err := c.Exec(ctx, "ALTER TABLE events."+table+" ADD COLUMN country Nullable(String)", nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(ctx, record(newer, 10)); err != nil {
		t.Fatalf("after the ALTER: %v", err)
	}
	// A restart before the flush: the new handler resumes after offset 9; offset 10 comes again.
	h = newHandler()
	if pos, err = h.Assigned(ctx, []worker.TopicPartition{tp}); err != nil || pos[tp] != 10 {
		t.Fatalf("after a restart: positions %v, %v, want 10", pos, err)
	}
	for o := int64(10); o < 15; o++ {
		if err := h.Handle(ctx, record(newer, o)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Flush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if n := count(t, c, "SELECT uniqExact(_offset) AS n FROM events."+table); n != 15 {
		t.Fatalf("%d distinct offsets, want 15", n)
	}
	if n := count(t, c, "SELECT count() AS n FROM events."+table); n != 15 {
		t.Fatalf("%d rows, want 15", n)
	}
}
