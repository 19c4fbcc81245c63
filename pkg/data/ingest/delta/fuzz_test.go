package delta_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/data/worker"
)

// FuzzHandle: any bytes as a record value are either written or refused with a RecordError
// (which sends them to the DLQ); never a panic, never another error.
func FuzzHandle(f *testing.F) {
	fx := &fixture{location: "feed/all_types_v1", topic: "t", partitions: 1, partitionBy: []string{"event_date"}}
	md, set := compile(f, "")
	fx.md, fx.sha = md, sha(set)
	for i := 0; i < 4; i++ {
		f.Add(value(f, md, i))
	}
	f.Add([]byte{0x0a, 0x80})
	f.Add([]byte{0x72, 0x02, 0x08, 0xff})
	fx.lakeDir = f.TempDir()
	fx.createTable(f, md)
	h := handlerFor(f, fx)
	ctx := context.Background()
	if _, err := h.Assigned(ctx, []worker.TopicPartition{{Topic: "t"}}); err != nil {
		f.Fatal(err)
	}
	var n int64
	f.Fuzz(func(t *testing.T, b []byte) {
		n++
		err := h.Handle(ctx, &worker.Record{Record: &kgo.Record{Topic: "t", Offset: n, Value: b}, Schema: &worker.Schema{SHA256: fx.sha, Message: md}})
		var re *worker.RecordError
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("error that is not a RecordError: %v", err)
		}
		if n%256 == 0 { // what was taken must also write and commit
			if _, err := h.Flush(ctx, true); err != nil {
				t.Fatalf("flush: %v", err)
			}
		}
	})
}
