package bigquery_test

import (
	"fmt"
	"strings"
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
		"e":"B","w64":"64","counts":{"a":"1"},"u32":4294967295,"u64":"18446744073709551615"}`), ev); err != nil {
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
		"w64": "64", "u32": "4294967295", "i64": "0", "u64": "18446744073709551615"} {
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

// TestUint64IntoIntegerColumn: a table whose uint64 column is INTEGER (made by hand or adopted,
// not by the mapping) takes values up to 2^63-1; a larger one is a bad record naming its field
// path, never a wrapped negative number.
func TestUint64IntoIntegerColumn(t *testing.T) {
	md, _ := compile(t)
	schema, err := typemap.BigQuery(md)
	if err != nil {
		t.Fatal(err)
	}
	for i := range schema {
		if schema[i].Name == "device" {
			for j := range schema[i].Fields {
				if schema[i].Fields[j].Name == "serial" {
					schema[i].Fields[j].Type = typemap.BQInteger
				}
			}
		}
	}
	for _, tc := range []struct {
		js, err string
	}{
		{`{"event_id":"e1","event_time":"2026-11-01T10:00:07Z","device":{"serial":"9223372036854775807"}}`, ""},
		{`{"event_id":"e2","event_time":"2026-11-01T10:00:07Z","device":{"serial":"9223372036854775808"}}`, "device.serial: 9223372036854775808 does not fit the table's INTEGER column"},
	} {
		ev := dynamicpb.NewMessage(md)
		if err := protojson.Unmarshal([]byte(tc.js), ev); err != nil {
			t.Fatal(err)
		}
		_, _, err := bigquery.EncodeRow(schema, ev)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err = %v, want %q", tc.js, err, tc.err)
		}
	}
}
