package descriptor_test

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
)

// orderSet is a set holding events.shop.v1.order_placed with the given string fields.
func orderSet(t *testing.T, fields map[string]int32, amountType descriptorpb.FieldDescriptorProto_Type) []byte {
	t.Helper()
	m := &descriptorpb.DescriptorProto{Name: proto.String("order_placed")}
	for name, num := range fields {
		m.Field = append(m.Field, &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num),
			Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()})
	}
	m.Field = append(m.Field, &descriptorpb.FieldDescriptorProto{Name: proto.String("amount"), Number: proto.Int32(9),
		Type: amountType.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()})
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name: proto.String("shop/order_placed.proto"), Package: proto.String("events.shop.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{m}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDiffShowsFields: a changed contract's update names its fields added, removed and retyped
// (read back from the published set), after the sha256 entry.
func TestDiffShowsFields(t *testing.T) {
	s := descriptor.New(openStore(t, "file://"+t.TempDir()))
	v1 := want("shop/order_placed", "prod", orderSet(t, map[string]int32{"order_id": 1, "coupon": 2}, descriptorpb.FieldDescriptorProto_TYPE_INT64))
	applyAll(t, s, plan(t, s, v1))
	v2 := want("shop/order_placed", "prod", orderSet(t, map[string]int32{"order_id": 1, "note": 3}, descriptorpb.FieldDescriptorProto_TYPE_STRING))
	cs := plan(t, s, v2)
	wantDiff := []sink.DiffEntry{
		{Path: "sha256", From: v1.Spec.(descriptor.Spec).SHA256, To: v2.Spec.(descriptor.Spec).SHA256},
		{Path: "fields.amount", From: "int64 amount = 9", To: "string amount = 9"},
		{Path: "fields.coupon", From: "string coupon = 2"},
		{Path: "fields.note", To: "string note = 3"},
	}
	if len(cs) != 1 || cs[0].Action != sink.Update || !reflect.DeepEqual(cs[0].Diff, wantDiff) {
		t.Fatalf("update: %v\n got %v\nwant %v", actions(cs), cs[0].Diff, wantDiff)
	}
}
