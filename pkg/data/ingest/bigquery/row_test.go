package bigquery_test

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/data/ingest/bigquery"
)

// TestRowEncoding checks the row bytes the Storage Write API is sent (no server: this is the
// pure conversion, which the emulator cannot show for TIMESTAMP fractions and DATE, see
// TestStreamIntoEmulator): TIMESTAMP as microseconds, DATE as days since the epoch, enums by
// name, wrappers unwrapped, maps as key/value records.
func TestRowEncoding(t *testing.T) {
	md, _ := compile(t)
	schema, err := typemap.BigQuery(md)
	if err != nil {
		t.Fatal(err)
	}
	ev := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(`{"event_id":"e1","event_time":"2026-11-01T10:00:07.123456Z","day":{"year":2024,"month":2,"day":29},
		"e":"B","w64":"64","counts":{"a":"1"},"u32":4294967295}`), ev); err != nil {
		t.Fatal(err)
	}
	rmd, b, err := bigquery.EncodeRow(schema, ev)
	if err != nil {
		t.Fatal(err)
	}
	row := dynamicpb.NewMessage(rmd)
	if err := proto.Unmarshal(b, row); err != nil {
		t.Fatal(err)
	}
	f := rmd.Fields()
	for name, want := range map[string]string{"event_id": "e1", "event_time": "1793527207123456", "day": "19782", "e": "B",
		"w64": "64", "u32": "4294967295", "i64": "0"} {
		if got := fmt.Sprint(row.Get(f.ByName(protoName(name))).Interface()); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if row.Has(f.ByName("device")) || row.Has(f.ByName("s")) {
		t.Error("absent message and optional fields must stay NULL")
	}
	counts := row.Get(f.ByName("counts")).List()
	if counts.Len() != 1 {
		t.Fatalf("counts has %d entries, want 1", counts.Len())
	}
	entry := counts.Get(0).Message()
	if k, v := entry.Get(entry.Descriptor().Fields().ByName("key")).String(), entry.Get(entry.Descriptor().Fields().ByName("value")).Int(); k != "a" || v != 1 {
		t.Errorf("counts entry = %s:%d, want a:1", k, v)
	}
}

func protoName(s string) protoreflect.Name { return protoreflect.Name(s) }
