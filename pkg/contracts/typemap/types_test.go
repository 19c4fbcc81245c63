package typemap_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

// TestEveryType maps one field of each type and checks all three outputs.
func TestEveryType(t *testing.T) {
	tests := []struct {
		decl     string // field declaration, named f
		bqType   string
		bqMode   string
		delta    string // DataType.String()
		nullable bool
		js       string // JSON of the property schema (without description)
	}{
		{"optional string f = 1;", "STRING", "NULLABLE", "string", true, `{"type":"string"}`},
		{"optional bool f = 1;", "BOOLEAN", "NULLABLE", "boolean", true, `{"type":"boolean"}`},
		{"optional int32 f = 1;", "INTEGER", "NULLABLE", "integer", true, `{"type":"integer","minimum":-2147483648,"maximum":2147483647}`},
		{"optional int64 f = 1;", "INTEGER", "NULLABLE", "long", true, `{"anyOf":[{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807},{"type":"string","pattern":"^-?[0-9]{1,19}$"}]}`},
		{"optional uint32 f = 1;", "INTEGER", "NULLABLE", "long", true, `{"type":"integer","minimum":0,"maximum":4294967295}`},
		{"optional uint64 f = 1;", "NUMERIC", "NULLABLE", "decimal(20,0)", true, `{"anyOf":[{"type":"integer","minimum":0,"maximum":18446744073709551615},{"type":"string","pattern":"^[0-9]{1,20}$"}]}`},
		{"optional float f = 1;", "FLOAT", "NULLABLE", "float", true, `{"anyOf":[{"type":"number","minimum":-3.4028234663852886e+38,"maximum":3.4028234663852886e+38},{"enum":["NaN","Infinity","-Infinity"]}]}`},
		{"optional double f = 1;", "FLOAT", "NULLABLE", "double", true, `{"anyOf":[{"type":"number"},{"enum":["NaN","Infinity","-Infinity"]}]}`},
		{"optional bytes f = 1;", "BYTES", "NULLABLE", "binary", true, `{"type":"string","contentEncoding":"base64","pattern":"^[A-Za-z0-9+/_-]*={0,2}$"}`},
		{"google.protobuf.Timestamp f = 1;", "TIMESTAMP", "NULLABLE", "timestamp", true, `{"type":"string","format":"date-time","pattern":"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"}`},
		{"google.type.Date f = 1;", "DATE", "NULLABLE", "date", true, `{"type":"object","properties":{"year":{"type":"integer","minimum":1,"maximum":9999},"month":{"type":"integer","minimum":1,"maximum":12},"day":{"type":"integer","minimum":1,"maximum":31}},"required":["year","month","day"],"additionalProperties":false}`},
		{"optional E f = 1;", "STRING", "NULLABLE", "string", true, `{"enum":["E_UNSPECIFIED","A","B",0,1,2]}`},
		{"R f = 1;", "RECORD", "NULLABLE", `{"type":"struct","fields":[{"name":"x","type":"long","nullable":true,"metadata":{}}]}`, true, `{"$ref":"#/$defs/t.v1.M.R"}`},
		{"repeated int64 f = 1;", "INTEGER", "REPEATED", `{"type":"array","elementType":"long","containsNull":false}`, true, `{"type":"array","items":{"anyOf":[{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807},{"type":"string","pattern":"^-?[0-9]{1,19}$"}]}}`},
		{"repeated R f = 1;", "RECORD", "REPEATED", `{"type":"array","elementType":{"type":"struct","fields":[{"name":"x","type":"long","nullable":true,"metadata":{}}]},"containsNull":false}`, true, `{"type":"array","items":{"$ref":"#/$defs/t.v1.M.R"}}`},
		{"map<string, int64> f = 1;", "RECORD", "REPEATED", `{"type":"map","keyType":"string","valueType":"long","valueContainsNull":false}`, true, `{"type":"object","additionalProperties":{"anyOf":[{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807},{"type":"string","pattern":"^-?[0-9]{1,19}$"}]}}`},
		{"map<uint64, R> f = 1;", "RECORD", "REPEATED", `{"type":"map","keyType":"decimal(20,0)","valueType":{"type":"struct","fields":[{"name":"x","type":"long","nullable":true,"metadata":{}}]},"valueContainsNull":false}`, true, `{"type":"object","propertyNames":{"pattern":"^[0-9]{1,20}$"},"additionalProperties":{"$ref":"#/$defs/t.v1.M.R"}}`},
		{"google.protobuf.Int64Value f = 1;", "INTEGER", "NULLABLE", "long", true, `{"anyOf":[{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807},{"type":"string","pattern":"^-?[0-9]{1,19}$"}]}`},
		{"google.protobuf.UInt64Value f = 1;", "NUMERIC", "NULLABLE", "decimal(20,0)", true, `{"anyOf":[{"type":"integer","minimum":0,"maximum":18446744073709551615},{"type":"string","pattern":"^[0-9]{1,20}$"}]}`},
		{"google.protobuf.StringValue f = 1;", "STRING", "NULLABLE", "string", true, `{"type":"string"}`},
		{"google.protobuf.Struct f = 1;", "JSON", "NULLABLE", "string", true, `{"type":"object"}`},
		{"google.protobuf.Value f = 1;", "JSON", "NULLABLE", "string", true, `{}`},
		{"optional string f = 1 [(evctl.options.v1.required) = true];", "STRING", "REQUIRED", "string", false, `{"type":"string"}`},
		{"google.protobuf.Timestamp f = 1 [(evctl.options.v1.required) = true];", "TIMESTAMP", "REQUIRED", "timestamp", false, ""},
		{"repeated string f = 1 [(evctl.options.v1.required) = true];", "STRING", "REPEATED", `{"type":"array","elementType":"string","containsNull":false}`, false, `{"type":"array","items":{"type":"string"},"minItems":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.decl, func(t *testing.T) {
			md := message(t, header+`message M {
  `+tt.decl+`
  enum E { E_UNSPECIFIED = 0; A = 1; B = 2; }
  message R { optional int64 x = 1; }
}`)
			bq, err := typemap.BigQuery(md)
			if err != nil {
				t.Fatal(err)
			}
			if bq[0].Name != "f" || bq[0].Type != tt.bqType || bq[0].Mode != tt.bqMode {
				t.Errorf("bigquery = %s %s %s, want f %s %s", bq[0].Name, bq[0].Type, bq[0].Mode, tt.bqType, tt.bqMode)
			}
			dl, err := typemap.Delta(md)
			if err != nil {
				t.Fatal(err)
			}
			if got := dl.Fields[0].Type.String(); got != tt.delta {
				t.Errorf("delta type = %s, want %s", got, tt.delta)
			}
			if dl.Fields[0].Nullable != tt.nullable {
				t.Errorf("delta nullable = %v, want %v", dl.Fields[0].Nullable, tt.nullable)
			}
			if tt.js == "" {
				return
			}
			if got := propertySchema(t, md, "f"); got != tt.js {
				t.Errorf("json schema property =\n%s\nwant\n%s", got, tt.js)
			}
		})
	}
}

// propertySchema is the compact JSON of one property of the message's JSON Schema.
func propertySchema(t *testing.T, md protoreflect.MessageDescriptor, name string) string {
	t.Helper()
	b, err := typemap.JSONSchema(md)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	raw, ok := doc.Properties[name]
	if !ok {
		t.Fatalf("no property %q in %s", name, b)
	}
	var buf bytes.Buffer // json.Compact keeps member order
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestMapRecord: a map is a REPEATED RECORD of a REQUIRED key and a NULLABLE value.
func TestMapRecord(t *testing.T) {
	md := message(t, header+`message M { map<int32, string> f = 1; }`)
	bq, _ := typemap.BigQuery(md)
	sub := bq[0].Fields
	want := []typemap.BQField{{Name: "key", Type: "INTEGER", Mode: "REQUIRED"}, {Name: "value", Type: "STRING", Mode: "NULLABLE"}}
	if diff := cmp.Diff(want, sub); diff != "" {
		t.Errorf("map fields (-want +got):\n%s", diff)
	}
}

// TestDescriptions: leading comments become BigQuery descriptions, Delta comments and JSON
// Schema descriptions.
func TestDescriptions(t *testing.T) {
	md := testdataMessage(t, "feed/video_played.proto")
	bq, _ := typemap.BigQuery(md)
	dl, _ := typemap.Delta(md)
	want := map[string]string{
		"video_id":   "The video.",
		"watch_ms":   "How long the user watched, in milliseconds.",
		"quality":    "",
		"event_time": "When it happened: <client clock> & \"quoted\".\nSecond line.",
	}
	for i, f := range bq {
		w, ok := want[f.Name]
		if !ok {
			continue
		}
		if f.Description != w {
			t.Errorf("bigquery %s description = %q, want %q", f.Name, f.Description, w)
		}
		c, _ := dl.Fields[i].Metadata[typemap.DeltaCommentKey].(string)
		if c != w {
			t.Errorf("delta %s comment = %q, want %q", f.Name, c, w)
		}
	}
	if d := bq[4].Fields[0].Description; d != "Model name." {
		t.Errorf("nested description = %q", d)
	}
	js, _ := typemap.JSONSchema(md)
	for _, s := range []string{`"description": "A user started playback of a video."`, `"description": "The video."`, `"description": "Model name."`, `<client clock> & \"quoted\".\nSecond line.`} {
		if !strings.Contains(string(js), s) {
			t.Errorf("json schema lacks %s", s)
		}
	}
	ds, _ := typemap.DeltaSchemaString(md)
	if !strings.Contains(ds, `<client clock> &`) {
		t.Errorf("delta schema string escapes HTML: %s", ds)
	}
}

// TestLongDescriptionTruncated: BigQuery refuses descriptions over 1024 characters.
func TestLongDescriptionTruncated(t *testing.T) {
	md := message(t, header+"message M {\n  // "+strings.Repeat("é", 2000)+"\n  string f = 1;\n}")
	bq, _ := typemap.BigQuery(md)
	if n := len([]rune(bq[0].Description)); n != 1024 {
		t.Errorf("description has %d characters, want 1024", n)
	}
}

// TestRejected: recursion, empty records and case-only name clashes fail with a FieldError
// naming the field path.
func TestRejected(t *testing.T) {
	tests := []struct {
		name, src string
		is        error
		msg       string
	}{
		{"self", `message M { string a = 1; M child = 2; }`, typemap.ErrRecursive,
			"typemap: t.v1.M: field child: recursive message: t.v1.M contains itself"},
		{"indirect", `message M { N n = 1; } message N { repeated P ps = 1; } message P { N back = 1; }`, typemap.ErrRecursive,
			"typemap: t.v1.M: field n.ps.back: recursive message: t.v1.N contains itself"},
		{"map value", `message M { Node root = 1; } message Node { map<string, Node> kids = 1; }`, typemap.ErrRecursive,
			"typemap: t.v1.M: field root.kids: recursive message: t.v1.Node contains itself"},
		{"empty", `message M { E e = 1; } message E {}`, typemap.ErrEmptyMessage,
			"typemap: t.v1.M: field e: message has no fields: t.v1.E"},
		{"case", `message M { string name = 1; string Name = 2; }`, typemap.ErrNameConflict,
			`typemap: t.v1.M: field Name: field names differ only in case: "name" and "Name"`},
		{"reserved", `message M { string _PARTITIONTIME = 1; }`, typemap.ErrUnsupported,
			"BigQuery reserves column names starting with _PARTITION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := message(t, header+tt.src)
			_, bqErr := typemap.BigQuery(md)
			_, dlErr := typemap.Delta(md)
			_, jsErr := typemap.JSONSchema(md)
			errs := []error{bqErr}
			if tt.is != typemap.ErrUnsupported { // a BigQuery limit only
				errs = append(errs, dlErr, jsErr, typemap.Check(md))
			}
			for _, err := range errs {
				if !errors.Is(err, tt.is) {
					t.Fatalf("err = %v, want %v", err, tt.is)
				}
				var fe *typemap.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("err %T is not a *FieldError", err)
				}
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("err = %q, want it to contain %q", err, tt.msg)
				}
			}
		})
	}
}

// TestTooDeep: BigQuery allows 15 nested levels.
func TestTooDeep(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 16; i++ {
		sb.WriteString("message L" + strconv.Itoa(i) + " { L" + strconv.Itoa(i+1) + " next = 1; }\n")
	}
	sb.WriteString("message L16 { string leaf = 1; }\n")
	md := message(t, header+sb.String())
	if _, err := typemap.BigQuery(md); !errors.Is(err, typemap.ErrUnsupported) || !strings.Contains(err.Error(), "15 nested levels") {
		t.Errorf("err = %v", err)
	}
	if _, err := typemap.Delta(md); err != nil {
		t.Errorf("delta: %v", err)
	}
}

// TestRowsMatchMapping holds the documented table to the real mapping, and the doc to the table.
func TestRowsMatchMapping(t *testing.T) {
	decl := map[string]string{
		"string": "string f = 1;", "bool": "bool f = 1;", "int32": "int32 f = 1;", "int64": "int64 f = 1;",
		"uint32": "uint32 f = 1;", "uint64": "uint64 f = 1;", "float": "float f = 1;", "double": "double f = 1;",
		"bytes": "bytes f = 1;", "google.protobuf.Timestamp": "google.protobuf.Timestamp f = 1;",
		"google.type.Date": "google.type.Date f = 1;", "enum": "E f = 1;",
		"sint32, sfixed32": "sint32 f = 1; sfixed32 g = 2;", "sint64, sfixed64": "sint64 f = 1; sfixed64 g = 2;",
		"fixed32": "fixed32 f = 1;", "fixed64": "fixed64 f = 1;",
	}
	doc, err := os.ReadFile("../../../docs/type-mapping.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range typemap.Rows() {
		line := "| " + strings.Join([]string{r.YAML, code(r.Proto), code(r.BigQuery), code(r.Delta), r.JSONSchema}, " | ") + " |"
		if !strings.Contains(string(doc), line) {
			t.Errorf("docs/type-mapping.md lacks the row\n%s", line)
		}
		d, ok := decl[r.Proto]
		if !ok {
			continue
		}
		md := message(t, header+"message M { "+d+" enum E { E_UNSPECIFIED = 0; } }")
		bq, _ := typemap.BigQuery(md)
		dl, _ := typemap.Delta(md)
		for i := range bq {
			if bq[i].Type != r.BigQuery || dl.Fields[i].Type.String() != r.Delta {
				t.Errorf("%s: mapped to %s / %s, table says %s / %s", r.Proto, bq[i].Type, dl.Fields[i].Type, r.BigQuery, r.Delta)
			}
		}
	}
}

// code renders a table cell as docs/type-mapping.md writes it: a type name in backticks, prose
// (anything with a space) as it is.
func code(cell string) string {
	if strings.Contains(cell, " ") {
		return cell
	}
	return "`" + cell + "`"
}
