package clickhouse_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
	ingest "github.com/evctl/evctl/pkg/data/ingest/clickhouse"
)

// TestBatchWithAColumnTheTableLacksWaits: a contract that gained a field before apply added the
// column: Write returns a SchemaError, writes nothing and records nothing; after the ALTER the
// same batch lands once.
func TestBatchWithAColumnTheTableLacksWaits(t *testing.T) {
	srv := chtest.Start(t)
	ctx := context.Background()
	c, err := chhttp.New(srv.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	provision(t, srv.URL, viewedMessage())
	newer, err := chtest.CompileMessage(strings.Replace(viewedProto, "optional string pad = 3;", "optional string pad = 3;\n  optional string country = 4;", 1), "ProfileViewed")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ingest.NewEncoder(newer, typemap.CHFeaturesFor("18.16"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := ingest.New(ctx, c, "events")
	if err != nil {
		t.Fatal(err)
	}
	b := ingest.Batch{Table: table, Columns: enc.Columns(), Topic: topic, Partition: 3}
	for o := int64(0); o < 10; o++ {
		r, err := enc.Row(event(newer, o, ""), o)
		if err != nil {
			t.Fatal(err)
		}
		b.Rows = append(b.Rows, r)
	}
	_, err = w.Write(ctx, b)
	var se *ingest.SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a SchemaError", err)
	}
	if n := count(t, c, "SELECT count() AS n FROM events."+table); n != 0 {
		t.Fatalf("%d rows written", n)
	}
	if err := c.Exec(ctx, "ALTER TABLE events."+table+" ADD COLUMN country Nullable(String)", nil); err != nil {
		t.Fatal(err)
	}
	res, err := w.Write(ctx, b)
	if err != nil || res.Written != 10 {
		t.Fatalf("after the ALTER: %+v, %v", res, err)
	}
	if res, err := w.Write(ctx, b); err != nil || res.Written != 0 || res.Skipped != 10 {
		t.Fatalf("the same batch again: %+v, %v (want all skipped)", res, err)
	}
	pos, err := w.Positions(ctx, table, topic, []int32{3, 4})
	if err != nil || pos[3] != 10 || pos[4] != -1 {
		t.Fatalf("positions %v, %v", pos, err)
	}
}
