package convert

import (
	"context"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// allTypesInputs are the differential cases over testdata/alltypes.proto's All: every type,
// every alternative spelling protojson accepts, and the inputs it rejects.
var allTypesInputs = []string{
	`{}`, ` { } `, `{"s":"x"}`, `{"s":""}`, `{"s":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\ud83d\ude00"}`,
	`{"s":"héllo wörld 日本"}`, `{"s":"\ud83d"}`, `{"s":"\ude00"}`, `{"s":"\ud83d\u0041"}`, `{"s":"\u00"}`,
	`{"s":"a` + "\x01" + `b"}`, `{"s":"` + "\xff" + `"}`, `{"s":"` + "\xed\xa0\x80" + `"}`, `{"s":1}`, `{"s":null}`,
	`{"b":true}`, `{"b":false}`, `{"b":"true"}`, `{"b":1}`, `{"b":truex}`, `{"b":tru}`,
	`{"i32":1}`, `{"i32":-1}`, `{"i32":2147483647}`, `{"i32":2147483648}`, `{"i32":-2147483648}`, `{"i32":"12"}`,
	`{"i32":" 12"}`, `{"i32":"12 "}`, `{"i32":1.0}`, `{"i32":1.5}`, `{"i32":1e2}`, `{"i32":1E+2}`, `{"i32":100e-2}`,
	`{"i32":1e-2}`, `{"i32":1e}`, `{"i32":1e+}`, `{"i32":01}`, `{"i32":-0}`, `{"i32":-}`, `{"i32":0.5e1}`,
	`{"i32":"1e2"}`, `{"i32":"0x10"}`, `{"i32":"+1"}`, `{"i32":""}`, `{"i32":"\u0031"}`, `{"i32":1.}`, `{"i32":.5}`,
	`{"i64":"9223372036854775807"}`, `{"i64":9223372036854775807}`, `{"i64":"9223372036854775808"}`,
	`{"i64":-9223372036854775808}`, `{"i64":123456789012345678}`, `{"i64":1234567890123456789}`, `{"i64":1e18}`, `{"i64":1e19}`,
	`{"u32":4294967295}`, `{"u32":4294967296}`, `{"u32":-1}`, `{"u32":-0}`, `{"u32":"7"}`,
	`{"u64":"18446744073709551615"}`, `{"u64":18446744073709551616}`, `{"u64":1.8446744073709551615e19}`,
	`{"si32":-5}`, `{"si64":"-9223372036854775808"}`, `{"f32":4294967295}`, `{"f64":"18446744073709551615"}`,
	`{"sf32":-2147483648}`, `{"sf64":-1}`,
	`{"fl":1.5}`, `{"fl":-0}`, `{"fl":-0.0}`, `{"fl":3.5e38}`, `{"fl":1e-50}`, `{"fl":"NaN"}`, `{"fl":"Infinity"}`,
	`{"fl":"-Infinity"}`, `{"fl":"1.25"}`, `{"fl":"nan"}`, `{"fl":"1e5"}`, `{"fl":" 1"}`,
	`{"db":1.7976931348623157e308}`, `{"db":1e309}`, `{"db":"-1.5e-300"}`, `{"db":0}`, `{"db":1e}`, `{"db":5e-324}`,
	`{"by":"aGVsbG8="}`, `{"by":"aGVsbG8"}`, `{"by":"-_-_"}`, `{"by":"+/+/"}`, `{"by":"a"}`, `{"by":"aGVs\nbG8="}`,
	`{"by":"aGVsbG8=="}`, `{"by":""}`, `{"by":"_w=="}`, `{"by":1}`,
	`{"color":"RED"}`, `{"color":"BLUE"}`, `{"color":2}`, `{"color":-3}`, `{"color":99}`, `{"color":"PURPLE"}`,
	`{"color":"1"}`, `{"color":2147483648}`, `{"color":1.0}`, `{"color":true}`,
	`{"os":""}`, `{"oi64":0}`, `{"odb":-0}`, `{"ob":false}`, `{"ocolor":"COLOR_UNSPECIFIED"}`, `{"ocolor":0}`,
	`{"inner":{}}`, `{"inner":{"name":"a","n":"5","kids":[{"name":"b"},{}]}}`, `{"inner":null}`, `{"inner":[]}`,
	`{"inner":{"kids":[null]}}`, `{"inner":{"x":1}}`, `{"inner":"a"}`,
	`{"rs":["a","b",""]}`, `{"rs":[]}`, `{"rs":null}`, `{"rs":[null]}`, `{"rs":["a",]}`, `{"rs":"a"}`,
	`{"ri64":[1,"2",-3,0]}`, `{"rsi32":[-1,0,1]}`, `{"rdb":[1.5,"NaN",0]}`, `{"rfl":[0,-0]}`, `{"rb":[true,false]}`,
	`{"rcolor":["RED",2,"PURPLE"]}`, `{"rcolor":[0]}`, `{"rby":["","AA=="]}`, `{"rinner":[{"n":1},{}]}`, `{"rf32":[1,2]}`,
	`{"ru64":["18446744073709551615"]}`, `{"rsf64":[-1, 1]}`,
	`{"mss":{"a":"1","b":""}}`, `{"mss":{"a":"1","a":"2"}}`, `{"mss":{}}`, `{"mss":{"a":null}}`, `{"mss":{"a":1}}`,
	`{"mii":{"1":2,"-3":"4"}}`, `{"mii":{"1":1,"01":2}}`, `{"mii":{"+1":1}}`, `{"mii":{"x":1}}`, `{"mii":{"2147483648":1}}`,
	`{"mbi":{"true":{"n":1},"false":{}}}`, `{"mbi":{"yes":{}}}`, `{"mbi":{"true":null}}`,
	`{"muc":{"1":"RED","2":"PURPLE"}}`, `{"muc":{"18446744073709551615":1}}`, `{"muc":{"-1":1}}`,
	`{"msb":{"-5":"AQ=="}}`, `{"msi":{"k":{"kids":[{"name":"x"}]}}}`, `{"mfd":{"4294967295":1.5}}`, `{"msf":{"-1":"NaN"}}`,
	`{"ts":"2026-11-01T10:00:00Z"}`, `{"ts":"2026-11-01T10:00:00.123Z"}`, `{"ts":"2026-11-01T10:00:00.123456789Z"}`,
	`{"ts":"2026-11-01T10:00:00.1234567891Z"}`, `{"ts":"2026-11-01T10:00:00+05:30"}`, `{"ts":"2026-11-01T10:00:00.5-01:00"}`,
	`{"ts":"2026-11-01 10:00:00Z"}`, `{"ts":"2026-11-01T10:00:00"}`, `{"ts":"0001-01-01T00:00:00Z"}`, `{"ts":"0000-01-01T00:00:00Z"}`,
	`{"ts":"9999-12-31T23:59:59.999999999Z"}`, `{"ts":"2024-02-29T00:00:00Z"}`, `{"ts":"2023-02-29T00:00:00Z"}`,
	`{"ts":"2026-11-01T24:00:00Z"}`, `{"ts":"2026-11-01T10:00:60Z"}`, `{"ts":"2026-11-01t10:00:00z"}`, `{"ts":1}`,
	`{"ts":"1970-01-01T00:00:00Z"}`, `{"ts":"1969-12-31T23:59:59.5Z"}`, `{"ts":"2026-11-01T10:00:00.Z"}`,
	`{"dur":"1s"}`, `{"dur":"1.5s"}`, `{"dur":"-0.5s"}`, `{"dur":".5s"}`, `{"dur":"1.s"}`, `{"dur":".s"}`, `{"dur":"s"}`,
	`{"dur":"-s"}`, `{"dur":"+3s"}`, `{"dur":"1.0000000001s"}`, `{"dur":"315576000001s"}`, `{"dur":"-315576000000s"}`,
	`{"dur":"01s"}`, `{"dur":"1m"}`, `{"dur":"0s"}`, `{"dur":"-0.000000001s"}`,
	`{"w_i64":"0"}`, `{"w_i64":5}`, `{"w_s":""}`, `{"w_s":"x"}`, `{"w_b":false}`, `{"w_db":"NaN"}`, `{"w_fl":0}`,
	`{"w_u64":"1"}`, `{"w_i32":-1}`, `{"w_u32":1}`, `{"w_by":"AA=="}`, `{"w_i64":null}`, `{"w_i64":{"value":1}}`,
	`{"date":{"year":2026,"month":11,"day":1}}`, `{"date":{"year":"2026"}}`, `{"date":"2026-11-01"}`,
	`{"rts":["2026-11-01T10:00:00Z","1970-01-01T00:00:00Z"]}`, `{"rts":[null]}`,
	`{"empty":{}}`, `{"empty":{"a":1}}`, `{"empty":null}`,
	`{"customName":"x"}`, `{"custom_json":"x"}`, `{"customJson":"x"}`, `{"customName":"x","custom_json":"y"}`,
	`{"one_s":"a"}`, `{"oneS":"a","one_i":1}`, `{"one_i":0}`, `{"one_inner":{}}`, `{"one_s":null,"one_i":1}`, `{"one_s":"","one_i":null}`,
	`{"self":{"self":{"s":"deep"}}}`, `{"msw":{"a":1,"b":"0"}}`, `{"msw":{"a":null}}`, `{"rw":[1,0]}`,
	`{"s":"a","s":"b"}`, `{"s":"a","S":"b"}`, `{"unknown":1}`, `{"i32":1,"unknown":{"a":[1,2,{"b":null}]}}`,
	`{"sI32":1}`, `{"si32":1,"si32":null}`, `{"i32":null,"i32":1}`,
	``, `[]`, `null`, `{`, `{"s"}`, `{"s":}`, `{"s":"a",}`, `{"s":"a"}x`, `{"s":"a"} `, `{"s":"a"}{}`, `{,}`, `{"s" : "a" , "b" : true}`,
	"{\"s\":\t\"a\"\r\n}", `{'s':'a'}`, `{s:"a"}`, `{"s":"a" "b":true}`, `{"rs":["a" "b"]}`, `{"i32":1 }`, `{"i32":1}}`,
}

var eventInputs = []string{
	`{}`,
	`{"video_id":"v","device":{"model":"m"},"plain_required":"p","event_time":"2026-11-01T10:00:00Z"}`,
	`{"videoId":"v","device":{"model":"m"},"plainRequired":"p","eventTime":"2026-11-01T10:00:00Z","eventId":"e1","receivedAt":"2026-11-01T10:00:01Z"}`,
	`{"video_id":"","device":{"model":""},"plain_required":"p","event_time":"2026-11-01T10:00:00Z"}`,
	`{"video_id":"v","device":{},"plain_required":"p","event_time":"2026-11-01T10:00:00Z"}`,
	`{"video_id":"v","device":{"model":"m"},"plain_required":"","event_time":"2026-11-01T10:00:00Z"}`,
	`{"video_id":"v","device":{"model":"m"},"plain_required":"p"}`,
	`{"video_id":"v","device":{"model":"m"},"plain_required":"p","event_time":"2026-11-01T10:00:00Z","devices":[{"model":"a"},{}]}`,
	`{"video_id":"v","device":{"model":"m"},"plain_required":"p","event_time":"2026-11-01T10:00:00Z","by_name":{"x":{}}}`,
	`{"video_id":"v","device":{"model":"m"},"plain_required":"p","event_time":"2026-11-01T10:00:00Z","by_name":{"x":{"model":"q"}}}`,
	`{"video_id":null,"device":{"model":"m"},"plain_required":"p","event_time":"2026-11-01T10:00:00Z"}`,
	`{"video_id":"v","device":null,"plain_required":"p","event_time":"2026-11-01T10:00:00Z"}`,
	`{"video_id":"v","device":{"model":"m"},"plain_required":"p","event_time":"2026-11-01T10:00:00Z","event_id":null,"received_at":null}`,
}

func TestDifferentialAllTypes(t *testing.T) {
	fd := allTypes(t)
	for _, drop := range []bool{false, true} {
		for _, name := range []string{"All", "Event"} {
			p, err := Compile(message(t, fd, name), testOpts(drop))
			if err != nil {
				t.Fatal(err)
			}
			inputs := allTypesInputs
			if name == "Event" {
				inputs = eventInputs
			}
			for _, in := range inputs {
				if d := differ(p, []byte(in)); d != "" {
					t.Errorf("%s drop=%v %s\n%s", name, drop, in, d)
				}
			}
		}
	}
}

// TestDifferentialExamples converts every example of every contract in the repository.
func TestDifferentialExamples(t *testing.T) {
	ws, err := workspace.Open("", "../../..")
	if err != nil {
		t.Skipf("no contracts repository: %v", err)
	}
	rep := lint.Check(context.Background(), ws, lint.Options{SkipGenFresh: true})
	n := 0
	for _, ev := range ws.Events {
		md, ok := rep.Compiled.Messages[ev.ID()]
		if !ok {
			continue
		}
		p, err := Compile(md, testOpts(false))
		if err != nil {
			t.Fatal(err)
		}
		for i := range ev.Examples {
			js, err := ev.Examples[i].JSON()
			if err != nil {
				continue
			}
			n++
			if d := differ(p, js); d != "" {
				t.Errorf("%s example %d: %s\n%s", ev.ID(), i, js, d)
			}
		}
	}
	if n == 0 {
		t.Fatal("no examples converted")
	}
	t.Logf("%d examples", n)
}

func TestErrorPaths(t *testing.T) {
	fd := allTypes(t)
	all, _ := Compile(message(t, fd, "All"), testOpts(false))
	ev, _ := Compile(message(t, fd, "Event"), testOpts(false))
	ok := `"video_id":"v","plain_required":"p","event_time":"2026-11-01T10:00:00Z"`
	for _, c := range []struct {
		p         *Plan
		in, field string
		msg       string
	}{
		{all, `{"inner":{"kids":[{},{"n":"x"}]}}`, "inner.kids[1].n", "invalid value"},
		{all, `{"rs":["a","b",3]}`, "rs[2]", "want a string"},
		{all, `{"mss":{"k":1}}`, `mss["k"]`, "want a string"},
		{all, `{"nope":1}`, "nope", "unknown field"},
		{ev, `{` + ok + `,"device":{"os":"x"}}`, "device.model", "required field is missing"},
		{ev, `{` + ok + `}`, "device", "required field is missing"},
		{ev, `{` + ok + `,"device":{"model":"m"},"devices":[{"model":"a"},{}]}`, "devices[1].model", "required"},
	} {
		_, err := c.p.Append(nil, []byte(c.in))
		e, isErr := err.(*Error)
		if !isErr || e.Field != c.field || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%s: got %v (field %q), want field %q with %q", c.in, err, fieldOf(e), c.field, c.msg)
		}
	}
}

func fieldOf(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

func TestLimits(t *testing.T) {
	fd := allTypes(t)
	o := testOpts(false)
	o.MaxDepth, o.MaxString = 4, 8
	p, _ := Compile(message(t, fd, "All"), o)
	for _, in := range []string{`{"s":"123456789"}`, `{"self":{"self":{"self":{"self":{}}}}}`, `{"rs":["ok","123456789"]}`} {
		_, err := p.Append(nil, []byte(in))
		if e, ok := err.(*Error); !ok || !e.Limit {
			t.Errorf("%s: got %v, want a limit error", in, err)
		}
	}
	if _, err := p.Append(nil, []byte(`{"s":"12345678"}`)); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

func TestPlatformFilled(t *testing.T) {
	fd := allTypes(t)
	p, _ := Compile(message(t, fd, "Event"), Options{})
	m, _, err := fast(p, []byte(`{"video_id":"v","device":{"model":"m"},"plain_required":"p","event_time":"2026-11-01T10:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	r := m.ProtoReflect()
	id := r.Get(r.Descriptor().Fields().ByName("event_id")).String()
	if len(id) != 36 || id[14] != '7' {
		t.Errorf("event_id %q is not a UUIDv7", id)
	}
	if !r.Has(r.Descriptor().Fields().ByName("received_at")) {
		t.Error("received_at not filled")
	}
}
