package typemap_test

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

const chProto = header + `
message M {
  string event_id = 1 [(evctl.options.v1.required) = true];
  google.protobuf.Timestamp event_time = 2 [(evctl.options.v1.required) = true];
  optional int64 n = 3;
  repeated uint64 big = 4;
  Part part = 5;
  repeated Part parts = 6;
  map<string, int32> counts = 7;
  Quality q = 8;
  google.protobuf.Int64Value w = 9;
  optional bool ok = 10;
}
message Part { string sku = 1; repeated string tags = 2; google.protobuf.Timestamp at = 3; Dim dim = 4; }
message Dim { optional int32 w = 1; }
enum Quality { QUALITY_UNSPECIFIED = 0; HD = 1; SD = 2; }
`

func TestClickHouseColumnsPerVersion(t *testing.T) {
	md := message(t, chProto)
	for _, tc := range []struct {
		version string
		want    []string
	}{
		{"18.16.1", []string{
			"event_id String", "event_time DateTime('UTC')", "event_time__nanos UInt32", "n Nullable(Int64)", "big Array(UInt64)",
			"part__sku Nullable(String)", "part__tags Array(String)", "part__at Nullable(DateTime('UTC'))", "part__at__nanos Nullable(UInt32)", "part__dim__w Nullable(Int32)",
			"parts.sku Array(Nullable(String))", "parts.tags Array(Array(String))", "parts.at Array(Nullable(DateTime('UTC')))", "parts.at__nanos Array(Nullable(UInt32))", "parts.dim__w Array(Nullable(Int32))",
			"counts.key Array(String)", "counts.value Array(Int32)",
			"q Nullable(Enum8('QUALITY_UNSPECIFIED' = 0, 'HD' = 1, 'SD' = 2))", "w Nullable(Int64)", "ok Nullable(UInt8)",
		}},
		{"23.8.2.7", []string{
			"event_id String", "event_time DateTime64(9, 'UTC')", "n Nullable(Int64)", "big Array(UInt64)",
			"part__sku Nullable(String)", "part__tags Array(String)", "part__at Nullable(DateTime64(9, 'UTC'))", "part__dim__w Nullable(Int32)",
			"parts.sku Array(Nullable(String))", "parts.tags Array(Array(String))", "parts.at Array(Nullable(DateTime64(9, 'UTC')))", "parts.dim__w Array(Nullable(Int32))",
			"counts Map(String, Int32)",
			"q Nullable(Enum8('QUALITY_UNSPECIFIED' = 0, 'HD' = 1, 'SD' = 2))", "w Nullable(Int64)", "ok Nullable(Bool)",
		}},
	} {
		cols, err := typemap.ClickHouse(md, typemap.CHFeaturesFor(tc.version))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cols {
			got = append(got, c.Name+" "+c.Type)
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\ngot\n%s\nwant\n%s", tc.version, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

func TestCHRowEncoderRefusesWhatAColumnCannotHold(t *testing.T) {
	md := message(t, chProto)
	enc, err := typemap.NewCHRowEncoder(md, typemap.CHFeaturesFor("18.16.1"))
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	ts := dynamicpb.NewMessage(md.Fields().ByName("event_time").Message())
	ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(-86400))
	m.Set(md.Fields().ByName("event_time"), protoreflect.ValueOfMessage(ts))
	_, err = enc.AppendRow(nil, m)
	var ve *typemap.ValueError
	if err == nil || !asValueError(err, &ve) || ve.Column != "event_time" {
		t.Fatalf("a 1969 timestamp in a DateTime: err = %v, want a ValueError on event_time", err)
	}
	ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(1_700_000_000))
	ts.Set(ts.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(5))
	row, err := enc.AppendRow(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"event_time":"2023-11-14 22:13:20"`, `"event_time__nanos":5`, `"n":null`, `"parts.sku":[]`, `"q":"QUALITY_UNSPECIFIED"`, `"counts.key":[]`} {
		if !strings.Contains(string(row), want) {
			t.Errorf("row %s lacks %s", row, want)
		}
	}
}

func asValueError(err error, target **typemap.ValueError) bool {
	v, ok := err.(*typemap.ValueError)
	*target = v
	return ok
}

// TestCHRowsMatchDocsAndMapping holds docs/type-mapping.md's ClickHouse table to CHRows, and
// the scalar rows to the real mapping on both server generations.
func TestCHRowsMatchDocsAndMapping(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/type-mapping.md")
	if err != nil {
		t.Fatal(err)
	}
	decl := map[string]string{
		"string": "string f = 1;", "bool": "bool f = 1;", "int32": "int32 f = 1;", "int64": "int64 f = 1;",
		"uint32": "uint32 f = 1;", "uint64": "uint64 f = 1;", "float": "float f = 1;", "double": "double f = 1;",
		"bytes": "bytes f = 1;", "google.type.Date": "google.type.Date f = 1;",
		"sint32, sfixed32": "sint32 f = 1; sfixed32 g = 2;", "sint64, sfixed64": "sint64 f = 1; sfixed64 g = 2;",
		"fixed32": "fixed32 f = 1;", "fixed64": "fixed64 f = 1;",
	}
	for _, r := range typemap.CHRows() {
		line := "| " + strings.Join([]string{r.YAML, code(r.Proto), code(r.Old), code(r.Recent)}, " | ") + " |"
		if !strings.Contains(string(doc), line) {
			t.Errorf("docs/type-mapping.md lacks the row\n%s", line)
		}
		d, ok := decl[r.Proto]
		if !ok {
			continue
		}
		md := message(t, header+"message M { "+strings.ReplaceAll(d, " f = ", " f = ")+" }")
		for v, want := range map[string]string{"18.16.1": r.Old, "23.8.1": r.Recent} {
			cols, err := typemap.ClickHouse(md, typemap.CHFeaturesFor(v))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cols {
				if c.Type != "Nullable("+want+")" && c.Type != want {
					t.Errorf("%s on %s: mapped to %s, table says %s", r.Proto, v, c.Type, want)
				}
			}
		}
	}
}

// FuzzCHFeaturesFor: SELECT version() is the server's text: any string gives features without
// panicking, and the 22.1 features never come without the older ones.
func FuzzCHFeaturesFor(f *testing.F) {
	for _, v := range []string{"18.16.1", "20.1.2.4", "22.1", "23.8.9.54-lts", "", "x.y", "99999999999999999999.1"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := typemap.CHFeaturesFor(v)
		if got.Version != v {
			t.Fatalf("version %q kept as %q", v, got.Version)
		}
		if (got.Map || got.Bool) && (!got.DateTime64 || !got.TTL || !got.LowCardinality) {
			t.Fatalf("%q: a 22.1 feature without the older ones: %+v", v, got)
		}
	})
}
