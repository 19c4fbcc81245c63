package fielddiff_test

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/fielddiff"
)

type field struct {
	name  string
	num   int32
	typ   descriptorpb.FieldDescriptorProto_Type
	msg   string // type name for TYPE_MESSAGE
	label descriptorpb.FieldDescriptorProto_Label
}

func msg(name string, fields ...field) *descriptorpb.DescriptorProto {
	m := &descriptorpb.DescriptorProto{Name: proto.String(name)}
	for _, f := range fields {
		label := f.label
		if label == 0 {
			label = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		}
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(f.name), Number: proto.Int32(f.num), Type: f.typ.Enum(), Label: label.Enum(), JsonName: proto.String(f.name)}
		if f.msg != "" {
			fd.TypeName = proto.String(f.msg)
		}
		m.Field = append(m.Field, fd)
	}
	return m
}

func set(t testing.TB, msgs ...*descriptorpb.DescriptorProto) []byte {
	t.Helper()
	fds := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name: proto.String("shop/order.proto"), Package: proto.String("events.shop.v1"), Syntax: proto.String("proto3"), MessageType: msgs,
	}}}
	b, err := proto.Marshal(fds)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	str  = descriptorpb.FieldDescriptorProto_TYPE_STRING
	i64  = descriptorpb.FieldDescriptorProto_TYPE_INT64
	mesg = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	rep  = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
)

func TestCompare(t *testing.T) {
	old := set(t,
		msg("Order", field{name: "order_id", num: 1, typ: str}, field{name: "amount", num: 2, typ: i64},
			field{name: "address", num: 3, typ: mesg, msg: ".events.shop.v1.Address"}, field{name: "tags", num: 4, typ: str, label: rep}),
		msg("Address", field{name: "city", num: 1, typ: str}))
	cur := set(t,
		msg("Order", field{name: "order_id", num: 1, typ: str}, field{name: "amount", num: 2, typ: str},
			field{name: "address", num: 3, typ: mesg, msg: ".events.shop.v1.Address"}, field{name: "note", num: 5, typ: str}),
		msg("Address", field{name: "town", num: 1, typ: str}, field{name: "zip", num: 2, typ: str}))
	got, err := fielddiff.Compare(old, cur, "events.shop.v1.Order")
	if err != nil {
		t.Fatal(err)
	}
	want := []fielddiff.Change{
		{Op: fielddiff.Changed, Path: "address.town", From: "string city = 1", To: "string town = 1"},
		{Op: fielddiff.Added, Path: "address.zip", To: "string zip = 2"},
		{Op: fielddiff.Changed, Path: "amount", From: "int64 amount = 2", To: "string amount = 2"},
		{Op: fielddiff.Added, Path: "note", To: "string note = 5"},
		{Op: fielddiff.Removed, Path: "tags", From: "repeated string tags = 4"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Compare:\n got %v\nwant %v", got, want)
	}
	if same, err := fielddiff.Compare(old, old, "events.shop.v1.Order"); err != nil || len(same) != 0 {
		t.Fatalf("a set against itself: %v %v", same, err)
	}
	for name, c := range map[string]struct {
		old, cur []byte
		msg      string
	}{
		"garbage": {[]byte("not a set"), cur, "events.shop.v1.Order"},
		"missing": {old, cur, "events.shop.v1.Nope"},
		"a field": {old, cur, "events.shop.v1.Order.amount"},
	} {
		if _, err := fielddiff.Compare(c.old, c.cur, c.msg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzCompare: any bytes as either set give changes or an error, never a panic.
func FuzzCompare(f *testing.F) {
	a := set(f, msg("Order", field{name: "order_id", num: 1, typ: str}))
	b := set(f, msg("Order", field{name: "order_id", num: 1, typ: i64}, field{name: "x", num: 2, typ: str, label: rep}))
	f.Add(a, b)
	f.Add(b, []byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, old, cur []byte) {
		_, _ = fielddiff.Compare(old, cur, "events.shop.v1.Order")
	})
}
