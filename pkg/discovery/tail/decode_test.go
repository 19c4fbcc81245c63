package tail

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// testSet is a FileDescriptorSet with one message, events.t.v1.Thing {string id = 1;
// google.protobuf.Timestamp at = 2;}, stored under its sha256, and sets named by schemas: "good"
// (that set), "garbage" (bytes that are no set), "tampered" (bytes not matching their sha).
func testSet(t *testing.T) (blob.Store, *descriptorpb.FileDescriptorSet, map[string]string) {
	t.Helper()
	ts := protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto)
	f := &descriptorpb.FileDescriptorProto{
		Name: proto.String("t/thing.proto"), Package: proto.String("events.t.v1"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Thing"), Field: []*descriptorpb.FieldDescriptorProto{
			{Name: proto.String("id"), JsonName: proto.String("id"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()},
			{Name: proto.String("at"), JsonName: proto.String("at"), Number: proto.Int32(2), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".google.protobuf.Timestamp"), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()},
		}}},
	}
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{ts, f}}
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	store, err := blob.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	garbage := []byte("not a set")
	schemas := map[string]string{"good": descstore.SHA256(b), "garbage": descstore.SHA256(garbage),
		"tampered": descstore.SHA256([]byte("other")), "missing": "missing"}
	for name, data := range map[string][]byte{"good": b, "garbage": garbage, "tampered": b} {
		if _, err := store.Put(context.Background(), descstore.SetKey(schemas[name]), data, blob.PutOpts{}); err != nil {
			t.Fatal(err)
		}
	}
	return store, set, schemas
}

func TestDecode(t *testing.T) {
	store, set, schemas := testSet(t)
	files, err := protodesc.NewFiles(set)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("events.t.v1.Thing")
	if err != nil {
		t.Fatal(err)
	}
	md := d.(protoreflect.MessageDescriptor)
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("id"), protoreflect.ValueOfString("x1"))
	at := dynamicpb.NewMessage(md.Fields().ByName("at").Message())
	at.Set(at.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(1700000000))
	m.Set(md.Fields().ByName("at"), protoreflect.ValueOfMessage(at))
	good, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(event, schema string) []kgo.RecordHeader {
		var h []kgo.RecordHeader
		if event != "" {
			h = append(h, kgo.RecordHeader{Key: descstore.HeaderEvent, Value: []byte(event)})
		}
		if schema != "" {
			h = append(h, kgo.RecordHeader{Key: descstore.HeaderSchema, Value: []byte(schemas[schema])})
		}
		return h
	}
	dec := NewDecoder(store, map[string]string{"t/thing": "events.t.v1.Thing", "t/other": "events.t.v1.Other"}, "")
	ts := time.Date(2026, 11, 1, 10, 0, 0, 0, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		name      string
		rec       *kgo.Record
		wantEvent string
		wantErr   string
	}{
		{"good", &kgo.Record{Value: good, Headers: hdr("t/thing", "good")}, `{"id":"x1","at":"2023-11-14T22:13:20Z"}`, ""},
		{"good again (cached)", &kgo.Record{Value: good, Headers: hdr("t/thing", "good")}, `{"id":"x1","at":"2023-11-14T22:13:20Z"}`, ""},
		{"corrupt value", &kgo.Record{Value: []byte("\xff\xff\xff"), Headers: hdr("t/thing", "good")}, "", "corrupt value"},
		{"no schema header", &kgo.Record{Value: good, Headers: hdr("t/thing", "")}, "", "no evctl-schema header"},
		{"unknown schema", &kgo.Record{Value: good, Headers: hdr("t/thing", "missing")}, "", "unknown schema missing"},
		{"garbage set", &kgo.Record{Value: good, Headers: hdr("t/thing", "garbage")}, "", "not a FileDescriptorSet"},
		{"tampered set", &kgo.Record{Value: good, Headers: hdr("t/thing", "tampered")}, "", "does not match its sha256"},
		{"message not in set", &kgo.Record{Value: good, Headers: hdr("t/other", "good")}, "", "has no message events.t.v1.Other"},
		{"unknown event, no fallback", &kgo.Record{Value: good, Headers: hdr("", "good")}, "", "unknown event"},
	} {
		tc.rec.Timestamp, tc.rec.Offset, tc.rec.Partition, tc.rec.Key = ts, 7, 2, []byte("k")
		l := dec.Decode(context.Background(), tc.rec)
		if string(l.Event) != tc.wantEvent || !strings.Contains(l.Error, tc.wantErr) || (tc.wantErr == "") != (l.Error == "") {
			t.Errorf("%s: event %s error %q; want event %s error containing %q", tc.name, l.Event, l.Error, tc.wantEvent, tc.wantErr)
		}
		if l.Offset != 7 || l.Partition != 2 || l.Key != "k" || !l.Timestamp.Equal(ts) || l.Timestamp.Location() != time.UTC {
			t.Errorf("%s: position %+v", tc.name, l)
		}
	}
	withFallback := NewDecoder(store, nil, "events.t.v1.Thing")
	if l := withFallback.Decode(context.Background(), &kgo.Record{Value: good, Headers: hdr("", "good")}); l.Error != "" {
		t.Errorf("fallback message: %v", l.Error)
	}
}
