package typemap_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

// TestJSONSchemaValidatesEvents compiles each generated schema with a real 2020-12 validator
// (which also checks it against the meta-schema) and validates sample events. Every event the
// schema accepts must also be accepted by protojson, as the gateway decodes it: the schema is
// never looser than the gateway. Where protojson is looser (null, partial dates, missing
// evctl-required fields), the schema is deliberately stricter.
func TestJSONSchemaValidatesEvents(t *testing.T) {
	const ts = `"2026-11-01T10:00:00Z"`
	tests := []struct {
		proto  string
		name   string
		event  string
		valid  bool
		protoj bool // protojson accepts it too (only meaningful when !valid)
	}{
		{"feed/video_played.proto", "minimal", `{"video_id":"v1","event_time":` + ts + `}`, true, true},
		{"feed/video_played.proto", "json names and every field", `{"videoId":"v1","watchMs":"1200","quality":"HD","tags":["a","b"],
			"device":{"model":"p7","screenDpi":420},"counters":{"a":1,"b":"-2"},"big":"18446744073709551615","blob":"AQID",
			"day":{"year":2026,"month":11,"day":1},"eventTime":"2026-11-01T10:00:00.123456789+05:30"}`, true, true},
		{"feed/video_played.proto", "enum number, int64 bounds", `{"video_id":"v","event_time":` + ts + `,"quality":3,"watch_ms":9223372036854775807,"big":18446744073709551615}`, true, true},
		{"feed/video_played.proto", "url-safe base64", `{"video_id":"v","event_time":` + ts + `,"blob":"-_8"}`, true, true},

		{"feed/video_played.proto", "missing required", `{"event_time":` + ts + `}`, false, true},
		{"feed/video_played.proto", "required as null", `{"video_id":null,"event_time":` + ts + `}`, false, true},
		{"feed/video_played.proto", "both names", `{"video_id":"a","videoId":"b","event_time":` + ts + `}`, false, false},
		{"feed/video_played.proto", "unknown field", `{"video_id":"a","event_time":` + ts + `,"colour":"red"}`, false, false},
		{"feed/video_played.proto", "int64 not digits", `{"video_id":"a","event_time":` + ts + `,"watch_ms":"12a"}`, false, false},
		{"feed/video_played.proto", "int64 fraction", `{"video_id":"a","event_time":` + ts + `,"watch_ms":1.5}`, false, false},
		{"feed/video_played.proto", "unknown enum name", `{"video_id":"a","event_time":` + ts + `,"quality":"ULTRA"}`, false, false},
		{"feed/video_played.proto", "int32 overflow", `{"video_id":"a","event_time":` + ts + `,"device":{"screen_dpi":3000000000}}`, false, false},
		{"feed/video_played.proto", "nested unknown field", `{"video_id":"a","event_time":` + ts + `,"device":{"make":"x"}}`, false, false},
		{"feed/video_played.proto", "bad timestamp", `{"video_id":"a","event_time":"yesterday"}`, false, false},
		{"feed/video_played.proto", "bad base64", `{"video_id":"a","event_time":` + ts + `,"blob":"***"}`, false, false},
		{"feed/video_played.proto", "negative uint64", `{"video_id":"a","event_time":` + ts + `,"big":-1}`, false, false},
		{"feed/video_played.proto", "tags not a list", `{"video_id":"a","event_time":` + ts + `,"tags":"a"}`, false, false},
		{"feed/video_played.proto", "partial date", `{"video_id":"a","event_time":` + ts + `,"day":{"year":2026,"month":0,"day":0}}`, false, true},

		{"raw/everything.proto", "raw contract", `{"f_int64":"1","items":[{"sku":"s","qty":2,"price":{"micros":"-5","tiers":[{"upto":"7"}]}}],
			"fFloat":"NaN","f_double":1e300,"color":"CRIMSON","took":"1.5s","mask":"a.b,c","w_int64":"9","wBool":true,"w_bytes":"AA==",
			"attrs":{"k":[1,{"x":null}]},"anything":null,"list":[1,"a"],"payload":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"2s"},
			"m_counts":{"-3":"18446744073709551615"},"m_flags":{"true":"RED"},"m_structs":{"1":{"a":1}},"target_user":"u","custom_json_name":5}`, true, true},
		{"raw/everything.proto", "oneof twice", `{"f_int64":1,"items":[{"sku":"s"}],"target_user":"u","targetItem":{"sku":"s"}}`, false, false},
		{"raw/everything.proto", "required repeated empty", `{"f_int64":1,"items":[]}`, false, true},
		{"raw/everything.proto", "float overflow", `{"f_int64":1,"items":[{"sku":"s"}],"f_float":1e39}`, false, false},
		{"raw/everything.proto", "map key not a number", `{"f_int64":1,"items":[{"sku":"s"}],"m_counts":{"x":1}}`, false, false},
		{"raw/everything.proto", "proto name of custom json_name", `{"f_int64":1,"items":[{"sku":"s"}],"customJSON":1}`, true, true},
	}
	schemas := map[string]*jsonschema.Schema{}
	descs := map[string]protoreflect.MessageDescriptor{}
	for _, tt := range tests {
		t.Run(tt.proto+"/"+tt.name, func(t *testing.T) {
			sch, ok := schemas[tt.proto]
			if !ok {
				md := testdataMessage(t, tt.proto)
				sch = compileSchema(t, md)
				schemas[tt.proto], descs[tt.proto] = sch, md
			}
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.event))
			if err != nil {
				t.Fatalf("sample is not JSON: %v", err)
			}
			verr := sch.Validate(inst)
			if (verr == nil) != tt.valid {
				t.Errorf("schema valid = %v, want %v (%v)", verr == nil, tt.valid, verr)
			}
			perr := protojson.Unmarshal([]byte(tt.event), dynamicpb.NewMessage(descs[tt.proto]))
			wantProto := tt.valid || tt.protoj
			if (perr == nil) != wantProto {
				t.Errorf("protojson accepts = %v, want %v (%v)", perr == nil, wantProto, perr)
			}
		})
	}
}

func compileSchema(t *testing.T, md protoreflect.MessageDescriptor) *jsonschema.Schema {
	t.Helper()
	js, err := typemap.JSONSchema(md)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("generated schema does not compile: %v", err)
	}
	return sch
}
