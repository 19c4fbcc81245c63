package clickhouse_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
	ingest "github.com/evctl/evctl/pkg/data/ingest/clickhouse"
)

// TestBufferFlushesByRowsAndTime: two schema versions and two partitions in one buffer; a
// partition whose rows the table cannot take yet keeps them and names itself, the other lands.
func TestBufferFlushesByRowsAndTime(t *testing.T) {
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
	w, err := ingest.New(ctx, c, "events")
	if err != nil {
		t.Fatal(err)
	}
	b := ingest.NewBuffer(w, typemap.CHFeaturesFor("18.16"), time.Minute, 25)
	t0 := time.Now()
	for o := int64(0); o < 20; o++ {
		if err := b.Add(table, topic, 0, event(md, o, ""), o, t0); err != nil {
			t.Fatal(err)
		}
	}
	if b.Due(t0.Add(30 * time.Second)) {
		t.Fatal("due with 20 rows of 25 after 30s of 1m")
	}
	if !b.Due(t0.Add(time.Minute)) {
		t.Fatal("not due after the flush interval")
	}
	for o := int64(0); o < 5; o++ {
		if err := b.Add(table, topic, 1, event(newer, o, ""), o, t0); err != nil {
			t.Fatal(err)
		}
	}
	if !b.Due(t0) {
		t.Fatal("not due at max_rows")
	}
	err = b.Flush(ctx)
	var pe *ingest.PartitionError
	var se *ingest.SchemaError
	if !errors.As(err, &pe) || pe.Partition != 1 || !errors.As(err, &se) {
		t.Fatalf("flush: %v, want partition 1 waiting for its column", err)
	}
	if b.Rows() != 5 {
		t.Fatalf("%d rows buffered, want partition 1's 5", b.Rows())
	}
	// Partition 0 now interleaves both versions: each run is its own batch, in offset order, so
	// no batch's watermark passes rows of another still to come.
	for o := int64(20); o < 30; o++ {
		m := md
		if o%2 == 1 {
			m = newer
		}
		if err := b.Add(table, topic, 0, event(m, o, ""), o, t0); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, c, "SELECT count() AS n FROM events."+table); n != 20 {
		t.Fatalf("%d rows in the table, want partition 0's 20", n)
	}
	if err := b.Flush(ctx); !errors.As(err, &se) || b.Rows() != 14 {
		t.Fatalf("second flush before the ALTER: %v, %d rows left, want 14 waiting (9 of partition 0, 5 of 1)", err, b.Rows())
	}
	if n := count(t, c, "SELECT count() AS n FROM events."+table); n != 21 {
		t.Fatalf("%d rows in the table, want 21 (offset 20 went, 21 waits for its column)", n)
	}
	if err := c.Exec(ctx, "ALTER TABLE events."+table+" ADD COLUMN country Nullable(String)", nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil || b.Rows() != 0 {
		t.Fatalf("after the ALTER: %v, %d rows left", err, b.Rows())
	}
	if n := count(t, c, "SELECT uniqExact(_partition, _offset) AS n FROM events."+table); n != 35 {
		t.Fatalf("%d distinct records in the table, want 35", n)
	}
	if n := count(t, c, "SELECT count() AS n FROM events."+table); n != 35 {
		t.Fatalf("%d rows in the table, want 35", n)
	}
}
