package convert

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// TestWideMessage covers messages past 64 fields, whose seen/has bits live beyond the first
// word: duplicates, required fields and platform fields there agree with protojson.
func TestWideMessage(t *testing.T) {
	var src strings.Builder
	src.WriteString("syntax = \"proto3\";\npackage wide;\nimport \"evctl/options.proto\";\nimport \"google/protobuf/timestamp.proto\";\nmessage Wide {\n")
	for i := 1; i <= 140; i++ {
		switch {
		case i == 70 || i == 135:
			fmt.Fprintf(&src, "  optional string f%d = %d [(evctl.options.v1.required) = true];\n", i, i)
		case i%3 == 0:
			fmt.Fprintf(&src, "  int64 f%d = %d;\n", i, i)
		default:
			fmt.Fprintf(&src, "  optional string f%d = %d;\n", i, i)
		}
	}
	src.WriteString("  optional string event_id = 1000 [(evctl.options.v1.platform) = true];\n")
	src.WriteString("  google.protobuf.Timestamp received_at = 1001 [(evctl.options.v1.platform) = true];\n  Wide inner = 1002;\n}\n")
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{
			"wide.proto":          src.String(),
			evoptions.OptionsFile: mustSource(t, evoptions.OptionsFile),
		}),
	})}
	files, err := c.Compile(context.Background(), "wide.proto")
	if err != nil {
		t.Fatal(err)
	}
	md := files[0].Messages().ByName("Wide")
	var all strings.Builder
	all.WriteString("{")
	for i := 140; i >= 1; i-- { // reverse order: no hint hits
		if i%3 == 0 {
			fmt.Fprintf(&all, `"f%d":%d,`, i, i)
		} else {
			fmt.Fprintf(&all, `"f%d":"v%d",`, i, i)
		}
	}
	full := strings.TrimSuffix(all.String(), ",") + "}"
	inputs := []string{
		full,
		`{"f70":"a","f135":"b"}`,
		`{"f70":"a"}`,
		`{"f135":"b"}`,
		`{"f70":"a","f135":"b","f135":"c"}`,
		`{"f70":"a","f135":"b","f100":"x","f100":"y"}`,
		`{"f70":"a","f135":"b","f1":"x","f1":"y"}`,
		`{"f70":"a","f135":"b","eventId":"e","event_id":"f"}`,
		`{"f70":"a","f135":"b","inner":{"f70":"x","f135":"y","f139":"z"}}`,
		`{"f70":"a","f135":"b","inner":{"f70":"x"}}`,
		`{"f70":"a","f135":"b","inner":{"f70":"x","f135":"y","inner":{"f135":"q","f70":"r","f138":"7"}},"f139":"z"}`,
		`{"f70":"a","f135":"b","f138":null,"f138":1}`,
	}
	for _, drop := range []bool{false, true} {
		p, err := Compile(md, testOpts(drop))
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range inputs {
			if d := differ(p, []byte(in)); d != "" {
				t.Errorf("drop=%v %s\n%s", drop, in, d)
			}
		}
	}
}

// fastNumberInputs exercise the integer and decimal fast paths at their edges.
var fastNumberInputs = []string{
	`{"db":0.1}`, `{"db":-0.0}`, `{"db":-0}`, `{"db":123456789012345.678}`, `{"db":9007199254740993}`,
	`{"db":9007199254740992.5}`, `{"db":0.0000000000000000000001}`, `{"db":1234567890.1234567890123}`,
	`{"db":00.5}`, `{"db":1.}`, `{"db":-}`, `{"db":-.5}`, `{"db":1.5e}`, `{"db":1.5x}`, `{"db":1.5,"s":"a"}`,
	`{"fl":0.1}`, `{"fl":16777217}`, `{"fl":16777216}`, `{"fl":0.3333333333}`, `{"fl":3.4028235e38}`,
	`{"fl":1.00000017881393421514957253748434595763683319091796875}`, `{"fl":-0.75}`, `{"rfl":[0.1,0.2,-0.3]}`,
	`{"rdb":[0.1,2.5,-1234.5678]}`, `{"i32":123456789012345678}`, `{"i64":999999999999999999}`,
	`{"i64":-999999999999999999}`, `{"u64":999999999999999999}`, `{"u32":-0}`, `{"u64":-1}`, `{"si64":-42}`,
	`{"sf32":-7}`, `{"i32":-2147483649}`, `{"i32":12a}`, `{"i32":0}`, `{"i32":-0}`, `{"i32":00}`,
	`{"ri64":[1,-2,3]}`, `{"rsi32":[-2147483648,2147483647]}`,
}

func TestFastNumbers(t *testing.T) {
	for _, drop := range []bool{false, true} {
		p, err := Compile(message(t, allTypes(t), "All"), testOpts(drop))
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range fastNumberInputs {
			if d := differ(p, []byte(in)); d != "" {
				t.Errorf("%s\n%s", in, d)
			}
		}
	}
}
