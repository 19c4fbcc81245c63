package typemap_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

// TestGolden pins the three outputs of each testdata contract; -update rewrites them.
func TestGolden(t *testing.T) {
	for _, rel := range []string{"feed/video_played.proto", "raw/everything.proto"} {
		t.Run(rel, func(t *testing.T) {
			md := testdataMessage(t, rel)
			base := strings.ReplaceAll(strings.TrimSuffix(rel, ".proto"), "/", "_")

			bq, err := typemap.BigQueryJSON(md)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, base+".bigquery.json", bq)

			ds, err := typemap.DeltaSchemaString(md)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer // the log stores it compact; the golden file is for reading
			if err := json.Indent(&pretty, []byte(ds), "", "  "); err != nil {
				t.Fatalf("delta schema string is not JSON: %v", err)
			}
			pretty.WriteByte('\n')
			golden(t, base+".delta.json", pretty.Bytes())

			js, err := typemap.JSONSchema(md)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, base+".schema.json", js)

			// Deterministic: a second run is byte-identical.
			bq2, _ := typemap.BigQueryJSON(md)
			ds2, _ := typemap.DeltaSchemaString(md)
			js2, _ := typemap.JSONSchema(md)
			if !bytes.Equal(bq, bq2) || ds != ds2 || !bytes.Equal(js, js2) {
				t.Error("output differs between two runs")
			}
		})
	}
}

// TestDeclarationOrder: columns follow declaration order, not field numbers.
func TestDeclarationOrder(t *testing.T) {
	md := message(t, header+`message M { string b = 2; string a = 1; string c = 3; }`)
	bq, _ := typemap.BigQuery(md)
	dl, _ := typemap.Delta(md)
	var got []string
	for i := range bq {
		got = append(got, bq[i].Name+"/"+dl.Fields[i].Name)
	}
	if strings.Join(got, ",") != "b/b,a/a,c/c" {
		t.Errorf("order = %v", got)
	}
}

// TestDeltaRoundTrip: the schemaString parses back to the same value, so a sink can compare a
// live table's schema with the desired one.
func TestDeltaRoundTrip(t *testing.T) {
	md := testdataMessage(t, "raw/everything.proto")
	want, err := typemap.Delta(md)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := typemap.DeltaSchemaString(md)
	got, err := typemap.ParseDeltaSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(got)
	if string(again) != s {
		t.Errorf("round trip changed the schema:\n%s\n%s", s, again)
	}
	if len(got.Fields) != len(want.Fields) {
		t.Errorf("fields = %d, want %d", len(got.Fields), len(want.Fields))
	}
	if _, err := typemap.ParseDeltaSchema(`{"type":"array"}`); err == nil {
		t.Error("a non-struct schema parsed")
	}
}

func TestCanonicalBQType(t *testing.T) {
	for in, want := range map[string]string{
		"INT64": "INTEGER", "float64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD",
		"DECIMAL": "NUMERIC", "BIGDECIMAL": "BIGNUMERIC", "STRING": "STRING", "INTEGER": "INTEGER",
	} {
		if got := typemap.CanonicalBQType(in); got != want {
			t.Errorf("CanonicalBQType(%q) = %q, want %q", in, got, want)
		}
	}
}
