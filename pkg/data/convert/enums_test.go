package convert

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestAttackUndefinedEnumNumber: a number an enum does not define ("color": 99) is refused
// with the field path, in JSON and in a decoded binary message, unless the field is open
// (open: true → (evctl.options.v1.open_enum)); names and defined numbers still pass.
func TestAttackUndefinedEnumNumber(t *testing.T) {
	md := message(t, allTypes(t), "All")
	p, err := Compile(md, testOpts(false))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ json, field string }{
		{`{"color":99}`, "color"},
		{`{"rcolor":[1,42]}`, "rcolor[1]"},
		{`{"ocolor":7}`, "ocolor"},
		{`{"muc":{"1":5}}`, `muc["1"]`},
	} {
		_, err := p.Append(nil, []byte(c.json))
		ce, ok := err.(*Error)
		if !ok || ce.Field != c.field || !strings.Contains(ce.Message, "open: true") {
			t.Errorf("%s: %v, want a refusal of field %s", c.json, err, c.field)
		}
	}
	for _, ok := range []string{`{"color":1}`, `{"color":-3}`, `{"color":"GREEN"}`, `{"open_color":99}`, `{"open_rcolor":[1,99]}`} {
		if _, err := p.Append(nil, []byte(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	// The binary path (gateway Publish with a proto payload) uses UndefinedEnum.
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("open_color"), protoreflectEnum(99))
	if p, _ := UndefinedEnum(m); p != "" {
		t.Errorf("open field flagged: %s", p)
	}
	m.Set(md.Fields().ByName("color"), protoreflectEnum(99))
	if p, n := UndefinedEnum(m); p != "color" || n != 99 {
		t.Errorf("closed field: %q %d", p, n)
	}
}

func protoreflectEnum(n int32) protoreflect.Value {
	return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n))
}
