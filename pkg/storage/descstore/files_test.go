package descstore_test

import (
	"fmt"
	"runtime"
	"testing"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/evctl/evctl/pkg/storage/descstore"
)

// closure lists f and its imports, each after its imports, as evctl writes a set.
func closure(f protoreflect.FileDescriptor, seen map[string]bool, out []*descriptorpb.FileDescriptorProto) []*descriptorpb.FileDescriptorProto {
	if seen[f.Path()] {
		return out
	}
	seen[f.Path()] = true
	for i := 0; i < f.Imports().Len(); i++ {
		out = closure(f.Imports().Get(i).FileDescriptor, seen, out)
	}
	return append(out, protodesc.ToFileDescriptorProto(f))
}

// eventSet is the set of one event: evctl-like file events/<name>.proto importing
// protovalidate's rules, a timestamp and a shared repository file money.proto whose Money
// message has moneyFields fields.
func eventSet(t testing.TB, name string, moneyFields int) []byte {
	t.Helper()
	money := &descriptorpb.FileDescriptorProto{
		Name: proto.String("common/money.proto"), Package: proto.String("shared.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Money")}},
	}
	for i := 1; i <= moneyFields; i++ {
		money.MessageType[0].Field = append(money.MessageType[0].Field, &descriptorpb.FieldDescriptorProto{
			Name: proto.String(fmt.Sprintf("f%d", i)), Number: proto.Int32(int32(i)),
			Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(fmt.Sprintf("f%d", i)),
		})
	}
	ev := &descriptorpb.FileDescriptorProto{
		Name: proto.String("events/" + name + ".proto"), Package: proto.String("events.v1"), Syntax: proto.String("proto3"),
		Dependency: []string{"buf/validate/validate.proto", "google/protobuf/timestamp.proto", "common/money.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String(name), Field: []*descriptorpb.FieldDescriptorProto{
			{Name: proto.String("at"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".google.protobuf.Timestamp"), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String("at")},
			{Name: proto.String("price"), Number: proto.Int32(2), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".shared.v1.Money"), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String("price")},
		}}},
	}
	seen := map[string]bool{}
	var files []*descriptorpb.FileDescriptorProto
	files = closure(validatepb.File_buf_validate_validate_proto, seen, files)
	files = closure(timestamppb.File_google_protobuf_timestamp_proto, seen, files)
	files = append(files, money, ev)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&descriptorpb.FileDescriptorSet{File: files})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFilesSharesImports(t *testing.T) {
	c := descstore.NewFiles()
	a, err := c.Message(eventSet(t, "A", 2), "events.v1.A")
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Message(eventSet(t, "B", 2), "events.v1.B")
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.Message(eventSet(t, "C", 3), "events.v1.C")
	if err != nil {
		t.Fatal(err)
	}
	imp := func(md protoreflect.MessageDescriptor, path string) protoreflect.FileDescriptor {
		imps := md.ParentFile().Imports()
		for i := 0; i < imps.Len(); i++ {
			if imps.Get(i).Path() == path {
				return imps.Get(i).FileDescriptor
			}
		}
		t.Fatalf("%s does not import %s", md.FullName(), path)
		return nil
	}
	for _, p := range []string{"buf/validate/validate.proto", "google/protobuf/timestamp.proto", "common/money.proto"} {
		if imp(a, p) != imp(b, p) {
			t.Errorf("%s is not shared by two sets holding the same bytes", p)
		}
	}
	if imp(a, "google/protobuf/timestamp.proto") != imp(other, "google/protobuf/timestamp.proto") {
		t.Error("the timestamp is not shared with a set whose money.proto differs")
	}
	if imp(a, "common/money.proto") == imp(other, "common/money.proto") {
		t.Error("two versions of money.proto share one descriptor")
	}
	if n := other.Fields().ByName("price").Message().Fields().Len(); n != 3 {
		t.Errorf("C's Money has %d fields, want its own 3", n)
	}
	// The descriptors are those protodesc.NewFiles builds from the same set.
	for _, tc := range []struct {
		set []byte
		msg string
		md  protoreflect.MessageDescriptor
	}{{eventSet(t, "A", 2), "events.v1.A", a}, {eventSet(t, "C", 3), "events.v1.C", other}} {
		fds := &descriptorpb.FileDescriptorSet{}
		if err := proto.Unmarshal(tc.set, fds); err != nil {
			t.Fatal(err)
		}
		files, err := protodesc.NewFiles(fds)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := files.FindDescriptorByName(protoreflect.FullName(tc.msg))
		for _, f := range []string{"events/" + tc.msg[len("events.v1."):] + ".proto", "common/money.proto", "buf/validate/validate.proto"} {
			want, _ := files.FindFileByPath(f)
			got := tc.md.ParentFile()
			if f != got.Path() {
				got = imp(tc.md, f)
			}
			if !proto.Equal(protodesc.ToFileDescriptorProto(got), protodesc.ToFileDescriptorProto(want)) {
				t.Errorf("%s: %s differs from protodesc.NewFiles'", tc.msg, f)
			}
		}
		if d.FullName() != tc.md.FullName() {
			t.Errorf("found %s", d.FullName())
		}
	}
	// A set out of order is built apart; garbage is an error.
	fds := &descriptorpb.FileDescriptorSet{}
	_ = proto.Unmarshal(eventSet(t, "D", 1), fds)
	fds.File[0], fds.File[len(fds.File)-1] = fds.File[len(fds.File)-1], fds.File[0]
	reversed, _ := proto.Marshal(fds)
	if md, err := c.Message(reversed, "events.v1.D"); err != nil || md.FullName() != "events.v1.D" {
		t.Errorf("out-of-order set: %v", err)
	}
	if _, err := c.Message([]byte{0xff, 0x01}, "events.v1.A"); err == nil {
		t.Error("garbage builds")
	}
	if _, err := c.Message(eventSet(t, "A", 2), "events.v1.Nope"); err == nil {
		t.Error("an unknown message is found")
	}
}

// BenchmarkFiles builds 500 events' sets (each with its copy of protovalidate's rules) and
// reports the heap they hold: shared through Files, or each built apart with protodesc.NewFiles.
func BenchmarkFiles(b *testing.B) {
	const events = 500
	sets := make([][]byte, events)
	for i := range sets {
		sets[i] = eventSet(b, fmt.Sprintf("E%d", i), 2)
	}
	heap := func() float64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) / (1 << 20)
	}
	for _, shared := range []bool{true, false} {
		name := "shared"
		if !shared {
			name = "apart"
		}
		b.Run(name, func(b *testing.B) {
			var keep []protoreflect.MessageDescriptor
			for b.Loop() {
				keep = nil
				base := heap()
				c := descstore.NewFiles()
				for i, s := range sets {
					var md protoreflect.MessageDescriptor
					if shared {
						md, _ = c.Message(s, fmt.Sprintf("events.v1.E%d", i))
					} else {
						fds := &descriptorpb.FileDescriptorSet{}
						_ = proto.Unmarshal(s, fds)
						files, _ := protodesc.NewFiles(fds)
						d, _ := files.FindDescriptorByName(protoreflect.FullName(fmt.Sprintf("events.v1.E%d", i)))
						md, _ = d.(protoreflect.MessageDescriptor)
					}
					if md == nil {
						b.Fatal("no message")
					}
					keep = append(keep, md)
				}
				b.ReportMetric(heap()-base, "MB-held")
			}
			runtime.KeepAlive(keep)
		})
	}
}
