package transform

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Well-known messages that the data holds as plain values rather than records.
const (
	timestampName = "google.protobuf.Timestamp"
	durationName  = "google.protobuf.Duration"
)

// scalarMessage reports whether a message appears in the data as one value: a timestamp or
// duration (a string), a wrapper (its value), Struct/Value/ListValue (their JSON).
func scalarMessage(md protoreflect.MessageDescriptor) bool {
	if md.ParentFile() == nil || md.ParentFile().Package() != "google.protobuf" {
		return false
	}
	switch md.Name() {
	case "Timestamp", "Duration", "Struct", "Value", "ListValue",
		"DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value", "UInt32Value",
		"BoolValue", "StringValue", "BytesValue":
		return true
	}
	return false
}

// Data turns a decoded event into the template's data (SPEC-dataplane 11): every field of the
// message by its contract name (unset nullable fields are nil, so `default` applies), numbers as
// numbers (int64 stays int64, so json prints a number), timestamps RFC 3339 strings in UTC, enums
// their value names, records maps, repeated fields lists, bytes base64.
func Data(m protoreflect.Message) map[string]any {
	out := map[string]any{}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch {
		case fd.IsList():
			l := m.Get(fd).List()
			vs := make([]any, l.Len())
			for j := range vs {
				vs[j] = value(fd, l.Get(j))
			}
			out[string(fd.Name())] = vs
		case fd.IsMap():
			mp := map[string]any{}
			m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				mp[k.String()] = value(fd.MapValue(), v)
				return true
			})
			out[string(fd.Name())] = mp
		case fd.Message() != nil && !m.Has(fd):
			out[string(fd.Name())] = nil
		case fd.HasPresence() && !m.Has(fd):
			out[string(fd.Name())] = nil
		default:
			out[string(fd.Name())] = value(fd, m.Get(fd))
		}
	}
	return out
}

func value(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return v.Uint()
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return int64(v.Enum())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return message(v.Message())
	}
	return nil
}

func message(m protoreflect.Message) any {
	md := m.Descriptor()
	if !scalarMessage(md) {
		return Data(m)
	}
	switch md.FullName() {
	case timestampName:
		f := md.Fields()
		s, n := m.Get(f.ByName("seconds")).Int(), m.Get(f.ByName("nanos")).Int()
		return time.Unix(s, n).UTC().Format(TimeLayout)
	case durationName:
		f := md.Fields()
		s, n := m.Get(f.ByName("seconds")).Int(), m.Get(f.ByName("nanos")).Int()
		return (time.Duration(s)*time.Second + time.Duration(n)).String()
	}
	if vf := md.Fields().ByName("value"); vf != nil && md.Fields().Len() == 1 && !vf.IsList() && vf.Message() == nil {
		return value(vf, m.Get(vf)) // a wrapper
	}
	// Struct, Value, ListValue: their JSON form.
	b, err := protojson.Marshal(m.Interface())
	if err != nil {
		return nil
	}
	var out any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if d.Decode(&out) != nil {
		return nil
	}
	return out
}
