package transform_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/evctl/evctl/pkg/contracts/transform"
)

// eventDesc builds a message like a compiled contract: scalars, an enum, a timestamp, a record,
// a repeated record and a repeated string.
func eventDesc(t testing.TB) protoreflect.MessageDescriptor {
	t.Helper()
	_ = timestamppb.Now() // registers google/protobuf/timestamp.proto
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	typ := func(k descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto_Type {
		return k.Enum()
	}
	f := func(name string, n int32, l *descriptorpb.FieldDescriptorProto_Label, k descriptorpb.FieldDescriptorProto_Type, tn string) *descriptorpb.FieldDescriptorProto {
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Label: l, Type: typ(k), JsonName: proto.String(name)}
		if tn != "" {
			fd.TypeName = proto.String(tn)
		}
		return fd
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("identity/step.proto"),
		Package:    proto.String("identity.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("Step"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("STEP_UNSPECIFIED"), Number: proto.Int32(0)}, {Name: proto.String("KYC"), Number: proto.Int32(1)}}}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Item"), Field: []*descriptorpb.FieldDescriptorProto{
				f("sku", 1, opt, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				f("qty", 2, opt, descriptorpb.FieldDescriptorProto_TYPE_INT64, "")}},
			{Name: proto.String("StepCompleted"), Field: []*descriptorpb.FieldDescriptorProto{
				f("event_id", 1, opt, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				f("event_time", 2, opt, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".google.protobuf.Timestamp"),
				f("user_id", 3, opt, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
				f("step", 4, opt, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".identity.v1.Step"),
				f("item", 5, opt, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".identity.v1.Item"),
				f("items", 6, rep, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".identity.v1.Item"),
				f("tags", 7, rep, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				f("name", 8, opt, descriptorpb.FieldDescriptorProto_TYPE_STRING, "")}},
		},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("StepCompleted")
}

func sampleEvent(t testing.TB, md protoreflect.MessageDescriptor, nItems int) map[string]any {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	js := `{"event_id":"e-1","event_time":"2026-11-01T10:00:00.250Z","user_id":"9007199254740993","step":"KYC",` +
		`"item":{"sku":"A","qty":"2"},"tags":["x","y"],"items":[`
	for i := 0; i < nItems; i++ {
		if i > 0 {
			js += ","
		}
		js += `{"sku":"s","qty":"1"}`
	}
	js += `]}`
	if err := protojsonUnmarshal([]byte(js), m); err != nil {
		t.Fatal(err)
	}
	return transform.Data(m)
}

var fixed = time.Date(2026, 12, 3, 10, 0, 0, 0, time.FixedZone("X", 3600))

func TestRenderData(t *testing.T) {
	md := eventDesc(t)
	data := sampleEvent(t, md, 2)
	tpl, err := transform.Parse(`{"user": {{json .user_id}}, "step": {{json .step}}, "at": {{json .event_time}}, `+
		`"ms": {{toUnixMillis .event_time}}, "sku": {{json (lower .item.sku)}}, "up": "{{upper "ab"}}", `+
		`"name": {{json (.name | default "anon")}}, "n": {{len .items}}, "tags": {{json .tags}}, `+
		`"skus": [{{range $i, $it := .items}}{{if $i}},{{end}}{{json $it.sku}}{{end}}], "user2": {{json $.user_id}}, `+
		`"id": {{json uuid}}, "sent_at": {{json now}}}`, transform.Options{Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatal(err)
	}
	out, err := tpl.Render(context.Background(), data, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := regexp.MustCompile(`"id": "[0-9a-f-]{36}"`).ReplaceAllString(string(out), `"id": UUID`)
	want := `{"user": 9007199254740993, "step": "KYC", "at": "2026-11-01T10:00:00.25Z", "ms": 1793527200250, "sku": "a", "up": "AB", ` +
		`"name": "anon", "n": 2, "tags": ["x","y"], "skus": ["s","s"], "user2": 9007199254740993, "id": UUID, "sent_at": "2026-12-03T09:00:00Z"}`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if !transform.IsJSON(out) {
		t.Fatal("not JSON")
	}
	// uuid is version 7.
	if m := regexp.MustCompile(`"id": "[0-9a-f]{8}-[0-9a-f]{4}-7`).FindString(string(out)); m == "" {
		t.Fatalf("uuid is not v7: %s", out)
	}
}

func TestParseErrorsHavePositions(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"a\nb {{.x", "line 2"},
		{"{{nope .x}}", `function "nope" not defined`},
		{"x\n{{define \"a\"}}y{{end}}", "define"},
		{"{{template \"x\"}}", "not allowed"},
		{"a\n  {{range 100000}}x{{end}}", "line 2, column 11: range takes a field"},
		{"{{range .a}}{{range .b}}{{range .c}}{{end}}{{end}}{{end}}", "nest deeper"},
		{"{{range (len .a)}}{{end}}", "range takes a field"},
	} {
		_, err := transform.Parse(c.text, transform.Options{})
		var te *transform.Error
		if !errors.As(err, &te) || !strings.Contains(err.Error(), c.want) || te.Line < 1 {
			t.Errorf("%q: got %v, want %q", c.text, err, c.want)
		}
	}
}

func TestCheckFields(t *testing.T) {
	md := eventDesc(t)
	tpl, err := transform.Parse("{{.user_id}} {{.usr}}\n{{.item.sku}} {{.item.colour}} {{.items.sku}}\n"+
		"{{range .items}}{{.qty}}{{.price}}{{end}}{{range .user_id}}{{end}}{{with .item}}{{.sku}}{{.nope}}{{end}}{{$.step.x}}{{if eq .step \"KYC\"}}{{end}}",
		transform.Options{})
	if err != nil {
		t.Fatal(err)
	}
	refs, errs := tpl.Check(md)
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	// Columns point at the last name of a chain (text/template places a field there).
	want := []string{
		`transform: line 1, column 16: the event has no field "usr"`,
		`transform: line 2, column 22: item has no field "colour"`,
		`transform: line 2, column 40: items is a list; range over it to reach "sku"`,
		`transform: line 3, column 27: items[] has no field "price"`,
		`transform: line 3, column 50: range over user_id, which is not a list`,
		`transform: line 3, column 91: item has no field "nope"`,
		`transform: line 3, column 108: step is not a record; it has no field "x"`,
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	paths := map[string]bool{}
	for _, r := range refs {
		paths[r.Path] = true
	}
	for _, p := range []string{"user_id", "item.sku", "items", "items[].qty", "step"} {
		if !paths[p] {
			t.Errorf("ref %s missing from %v", p, refs)
		}
	}
}

func TestRenderLimits(t *testing.T) {
	md := eventDesc(t)
	tpl, err := transform.Parse(`{{range .items}}{{range $.items}}{{.sku}}{{end}}{{end}}`, transform.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := sampleEvent(t, md, 200)
	if _, err := tpl.Render(context.Background(), data, 1000); !errors.Is(err, transform.ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	if out, err := tpl.Render(context.Background(), data, 0); err != nil || len(out) != 200*200 {
		t.Fatalf("%d bytes, %v", len(out), err)
	}
	// A render that outlives its context is abandoned with an error, not waited for.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	silent, _ := transform.Parse(`{{range .items}}{{range $.items}}{{end}}{{end}}`, transform.Options{})
	if _, err := silent.Render(ctx, sampleEvent(t, md, 3000), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	// A missing map key at run time is an error, not "<no value>".
	if _, err := tpl.Render(context.Background(), map[string]any{}, 0); err == nil {
		t.Fatal("missing key rendered")
	}
}

// FuzzTemplate: parsing, checking and rendering any text never panics, and a render stays within
// its output limit.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{`{"u": {{json .user_id}}, "s": {{json .step}}}`, "{{range .items}}{{.sku}}{{end}}",
		"{{with .item}}{{.qty | default 3}}{{end}}", "{{toUnixMillis .event_time}}{{uuid}}{{now}}", "{{", "{{.a.b.c}}"} {
		f.Add(s)
	}
	md := eventDesc(f)
	data := sampleEvent(f, md, 3)
	f.Fuzz(func(t *testing.T, text string) {
		tpl, err := transform.Parse(text, transform.Options{})
		if err != nil {
			var te *transform.Error
			if !errors.As(err, &te) || te.Line < 1 {
				t.Fatalf("parse error without a line: %v", err)
			}
			return
		}
		tpl.Check(md)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if out, err := tpl.Render(ctx, data, 4096); err == nil && len(out) > 4096 {
			t.Fatalf("%d bytes past the limit", len(out))
		}
	})
}
