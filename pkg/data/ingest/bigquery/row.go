package bigquery

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/managedwriter/adapt"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

// rowType is a table's row message: the descriptor rows are encoded with and the normalized
// (self-contained) form the Storage Write API is sent.
type rowType struct {
	md   protoreflect.MessageDescriptor
	norm *descriptorpb.DescriptorProto
}

// newRowType derives the row message from the table schema.
func newRowType(schema []typemap.BQField) (*rowType, error) {
	ts, err := adapt.BQSchemaToStorageTableSchema(toBQSchema(schema))
	if err != nil {
		return nil, fmt.Errorf("ingest bigquery: row schema: %w", err)
	}
	d, err := adapt.StorageSchemaToProto2Descriptor(ts, "root")
	if err != nil {
		return nil, fmt.Errorf("ingest bigquery: row descriptor: %w", err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("ingest bigquery: row descriptor is a %T", d)
	}
	norm, err := adapt.NormalizeDescriptor(md)
	if err != nil {
		return nil, fmt.Errorf("ingest bigquery: normalize row descriptor: %w", err)
	}
	numericAsString(schema, norm)
	// Rows are encoded against the normalized descriptor itself, so what is sent and how the
	// bytes were made cannot drift apart.
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("evctl_row.proto"), Syntax: proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{norm},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("ingest bigquery: row file: %w", err)
	}
	return &rowType{md: fd.Messages().Get(0), norm: norm}, nil
}

// numericAsString makes NUMERIC and BIGNUMERIC fields of the row message strings (decimal text)
// instead of adapt's bytes: the Storage Write API takes both for these columns, the text form
// needs no packed two's-complement encoding, and the emulator stores it as the number it is.
func numericAsString(fs []typemap.BQField, root *descriptorpb.DescriptorProto) {
	types := map[string]*descriptorpb.DescriptorProto{}
	var index func(ds []*descriptorpb.DescriptorProto)
	index = func(ds []*descriptorpb.DescriptorProto) {
		for _, d := range ds {
			types[d.GetName()] = d
			index(d.NestedType)
		}
	}
	index(root.NestedType)
	var walk func(fs []typemap.BQField, d *descriptorpb.DescriptorProto)
	walk = func(fs []typemap.BQField, d *descriptorpb.DescriptorProto) {
		for _, f := range fs {
			for _, fd := range d.Field {
				if fd.GetName() != f.Name {
					continue
				}
				if t := typemap.CanonicalBQType(f.Type); t == typemap.BQNumeric || t == "BIGNUMERIC" {
					fd.Type = descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
					continue
				}
				name := fd.GetTypeName()
				if i := strings.LastIndexByte(name, '.'); i >= 0 {
					name = name[i+1:]
				}
				if sub, ok := types[name]; ok && len(f.Fields) > 0 {
					walk(f.Fields, sub)
				}
			}
		}
	}
	walk(fs, root)
}

func toBQSchema(fs []typemap.BQField) bq.Schema {
	out := make(bq.Schema, 0, len(fs))
	for _, f := range fs {
		out = append(out, &bq.FieldSchema{Name: f.Name, Type: bq.FieldType(typemap.CanonicalBQType(f.Type)),
			Repeated: f.Mode == typemap.BQRepeated, Required: f.Mode == typemap.BQRequired, Schema: toBQSchema(f.Fields)})
	}
	return out
}

// encode converts one event message into the wire bytes of a row.
func (rt *rowType) encode(ev protoreflect.Message) ([]byte, error) {
	row, err := rt.row(ev)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(row)
}

// row converts one event message into a row message.
func (rt *rowType) row(ev protoreflect.Message) (*dynamicpb.Message, error) {
	row := dynamicpb.NewMessage(rt.md)
	if err := fill(ev, row, ""); err != nil {
		return nil, err
	}
	return row, nil
}

// fill copies src's fields into dst by name. Proto3 scalars without presence are written even
// when zero (the value the event carries); absent messages stay NULL.
func fill(src, dst protoreflect.Message, path string) error {
	fields := src.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		sfd := fields.Get(i)
		p := join(path, string(sfd.Name()))
		dfd := dst.Descriptor().Fields().ByName(sfd.Name())
		if dfd == nil {
			return fmt.Errorf("%s: the table has no such column", p)
		}
		if !src.Has(sfd) && (sfd.HasPresence() || sfd.IsList() || sfd.IsMap()) {
			continue
		}
		v := src.Get(sfd)
		switch {
		case sfd.IsMap():
			list := dst.Mutable(dfd).List()
			var err error
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				entry := list.NewElement().Message()
				ef := entry.Descriptor().Fields()
				var kv protoreflect.Value
				if kv, err = scalar(k.Value(), sfd.MapKey(), ef.ByName("key"), entry, p); err != nil {
					return false
				}
				entry.Set(ef.ByName("key"), kv)
				if vv, e := scalar(mv, sfd.MapValue(), ef.ByName("value"), entry, p); e != nil {
					err = e
					return false
				} else if vv.IsValid() {
					entry.Set(ef.ByName("value"), vv)
				}
				list.Append(protoreflect.ValueOfMessage(entry))
				return true
			})
			if err != nil {
				return err
			}
		case sfd.IsList():
			src := v.List()
			list := dst.Mutable(dfd).List()
			for j := 0; j < src.Len(); j++ {
				ev, err := scalar(src.Get(j), sfd, dfd, nil, fmt.Sprintf("%s[%d]", p, j))
				if err != nil {
					return err
				}
				if !ev.IsValid() {
					continue
				}
				if dfd.Kind() == protoreflect.MessageKind && ev.Message() == nil {
					continue
				}
				list.Append(ev)
			}
		default:
			dv, err := scalar(v, sfd, dfd, dst, p)
			if err != nil {
				return err
			}
			if dv.IsValid() {
				dst.Set(dfd, dv)
			}
		}
	}
	return nil
}

// scalar converts one value (a list element, map key/value or singular field) of sfd into a
// value of dfd. An invalid Value means NULL.
func scalar(v protoreflect.Value, sfd, dfd protoreflect.FieldDescriptor, _ protoreflect.Message, path string) (protoreflect.Value, error) {
	if dfd == nil {
		return protoreflect.Value{}, fmt.Errorf("%s: the table has no such column", path)
	}
	switch sfd.Kind() {
	case protoreflect.EnumKind:
		name := strconv.Itoa(int(v.Enum()))
		if ev := sfd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			name = string(ev.Name())
		}
		return protoreflect.ValueOfString(name), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := v.Message()
		switch m.Descriptor().FullName() {
		case "google.protobuf.Timestamp":
			f := m.Descriptor().Fields()
			t := time.Unix(m.Get(f.ByName("seconds")).Int(), m.Get(f.ByName("nanos")).Int())
			return protoreflect.ValueOfInt64(t.UnixMicro()), nil
		case "google.type.Date":
			f := m.Descriptor().Fields()
			y, mo, d := m.Get(f.ByName("year")).Int(), m.Get(f.ByName("month")).Int(), m.Get(f.ByName("day")).Int()
			days := time.Date(int(y), time.Month(mo), int(d), 0, 0, 0, 0, time.UTC).Unix() / 86400
			return protoreflect.ValueOfInt32(int32(days)), nil
		case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any":
			b, err := protojson.Marshal(m.Interface())
			if err != nil {
				return protoreflect.Value{}, fmt.Errorf("%s: %w", path, err)
			}
			return protoreflect.ValueOfString(string(b)), nil
		case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
			"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
			"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
			vf := m.Descriptor().Fields().ByName("value")
			return scalar(m.Get(vf), vf, dfd, nil, path)
		}
		if dfd.Kind() != protoreflect.MessageKind {
			return protoreflect.Value{}, fmt.Errorf("%s: record into a %s column", path, dfd.Kind())
		}
		sub := dynamicpb.NewMessage(dfd.Message())
		if err := fill(m, sub, path); err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfMessage(sub), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// NUMERIC (the mapping) as decimal text: every uint64 fits its 29 integer digits. A
		// table whose column is INTEGER (made by hand, adopted) takes values up to 2^63-1;
		// larger ones are bad records (to the DLQ with the field path), never wrapped negative.
		switch dfd.Kind() {
		case protoreflect.StringKind:
			return protoreflect.ValueOfString(strconv.FormatUint(v.Uint(), 10)), nil
		case protoreflect.Int64Kind:
			if v.Uint() > math.MaxInt64 {
				return protoreflect.Value{}, fmt.Errorf("%s: %d does not fit the table's INTEGER column (at most 2^63-1)", path, v.Uint())
			}
			return protoreflect.ValueOfInt64(int64(v.Uint())), nil
		}
		return protoreflect.Value{}, fmt.Errorf("%s: uint64 into a %s column", path, dfd.Kind())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfInt64(int64(v.Uint())), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(v.Int()), nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(v.Float()), nil
	}
	return v, nil // bool, string, bytes
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
