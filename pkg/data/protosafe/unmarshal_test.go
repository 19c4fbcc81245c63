package protosafe_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/evctl/evctl/pkg/data/protosafe"
)

// The input FuzzHandle found: a Struct map entry whose key has the wrong wire type makes
// proto.Unmarshal panic on a dynamicpb message.
var panicky = []byte("\n\x0e\n\x010\b0100000000")

func TestUnmarshalTurnsRuntimePanicIntoError(t *testing.T) {
	md := (&structpb.Struct{}).ProtoReflect().Descriptor()
	if err := protosafe.Unmarshal(proto.UnmarshalOptions{}, panicky, dynamicpb.NewMessage(md)); err == nil {
		t.Fatal("Unmarshal of a malformed Struct entry: no error")
	}
	m := dynamicpb.NewMessage(md)
	if err := protosafe.Unmarshal(proto.UnmarshalOptions{}, []byte("\n\x05\n\x01k\x12\x00"), m); err != nil {
		t.Fatalf("Unmarshal of a valid Struct: %v", err)
	}
	if got := m.Get(md.Fields().ByName("fields")).Map().Len(); got != 1 {
		t.Fatalf("valid Struct decoded with %d fields, want 1", got)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(panicky)
	md := (&structpb.Struct{}).ProtoReflect().Descriptor()
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = protosafe.Unmarshal(proto.UnmarshalOptions{}, b, dynamicpb.NewMessage(md))
	})
}
