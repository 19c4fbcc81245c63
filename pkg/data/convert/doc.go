// Package convert turns one JSON event into the Protobuf wire bytes of its contract, driven only
// by a protoreflect.MessageDescriptor: no generated code, no per-event code. A descriptor is
// compiled once into a Plan (field lookup by proto and JSON name, wire tags, enum tables,
// required and platform fields); Plan.Append then scans the JSON bytes once and appends the
// encoded message to a caller's buffer, without building an intermediate message.
//
// The accepted JSON is protojson's (google.golang.org/protobuf/encoding/protojson) and the
// output unmarshals to a message proto.Equal to what protojson.Unmarshal into a dynamicpb
// message followed by proto.Marshal produces; the package's differential tests and fuzz target
// hold it to that. Deliberate differences, all stricter: fields marked
// (evctl.options.v1.required) must be present, and nesting depth and string length are
// limited (Options). Messages using google.protobuf.Any, Struct, Value, ListValue, FieldMask or
// proto2 groups are converted through protojson itself (correct, not fast).
//
// The package owns conversion only: it does no I/O and knows nothing of HTTP, Kafka or the
// descriptor store.
package convert
