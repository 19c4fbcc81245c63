package typemap

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// JSONSchemaDraft is the dialect JSONSchema writes.
const JSONSchemaDraft = "https://json-schema.org/draft/2020-12/schema"

// Patterns and bounds of protojson's encodings. They make the schema stand on its own: a
// validator that treats "format" as an annotation (the 2020-12 default) still checks them.
const (
	patternInt64     = "^-?[0-9]{1,19}$"
	patternUint64    = "^[0-9]{1,20}$"
	patternBase64    = "^[A-Za-z0-9+/_-]*={0,2}$" // standard or URL-safe, padded or not
	patternTimestamp = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"
	patternDuration  = "^-?[0-9]{1,12}(\\.[0-9]{1,9})?s$"
)

var (
	minInt64   = json.Number("-9223372036854775808")
	maxInt64   = json.Number("9223372036854775807")
	maxUint64  = json.Number("18446744073709551615")
	maxFloat32 = json.Number("3.4028234663852886e+38")
	minFloat32 = json.Number("-3.4028234663852886e+38")
)

// JSONSchema maps an event message to a JSON Schema (draft 2020-12) for the event's protojson
// form, the JSON the gateway accepts, so a browser or a producer's CI can validate an event
// before sending it. It is written to be no looser than the gateway where JSON Schema can say so:
//
//   - each field is accepted under its proto name and its json_name, never both at once;
//   - unknown properties are refused (additionalProperties false), as the gateway does;
//   - required lists the fields with evctl's required option (under either name); a required
//     repeated or map field must also be non-empty;
//   - 64-bit integers are JSON integers or strings of digits, 32-bit ones JSON integers in range;
//   - enums are value names or their numbers; bytes are base64; Timestamp is an RFC 3339 string;
//     google.type.Date is protojson's {"year","month","day"} object; Duration is "1.5s";
//   - null is not accepted: leave a field out instead;
//   - at most one member of a oneof may be set.
//
// Nested messages are $defs keyed by full name, in order of first use. The output is indented
// JSON ending in a newline. It returns a *FieldError when Check does.
func JSONSchema(md protoreflect.MessageDescriptor) ([]byte, error) {
	if err := Check(md); err != nil {
		return nil, err
	}
	b := &jsBuilder{defs: map[protoreflect.FullName]object{}}
	body := b.message(md)
	doc := object{
		{"$schema", JSONSchemaDraft},
		{"title", string(md.FullName())},
	}
	doc = append(doc, body...)
	if len(b.order) > 0 {
		defs := make(object, 0, len(b.order))
		for _, name := range b.order {
			defs = append(defs, member{string(name), b.defs[name]})
		}
		doc = append(doc, member{"$defs", defs})
	}
	return encodeJSON(doc, true)
}

type jsBuilder struct {
	defs  map[protoreflect.FullName]object
	order []protoreflect.FullName
}

// message is the schema of a message's protojson object (without $schema or $defs).
func (b *jsBuilder) message(md protoreflect.MessageDescriptor) object {
	s := object{{"type", "object"}}
	if d := Description(md); d != "" {
		s = append(s, member{"description", d})
	}
	var (
		props     object
		required  []string
		allOf     []any
		conflicts [][2]string
	)
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		fs := b.field(fd)
		names := fieldNames(fd)
		for _, n := range names {
			props = append(props, member{n, fs})
		}
		if len(names) == 2 {
			conflicts = append(conflicts, [2]string{names[0], names[1]})
		}
		if !fieldRequired(fd) {
			continue
		}
		if len(names) == 1 {
			required = append(required, names[0])
		} else {
			allOf = append(allOf, object{{"anyOf", []any{
				object{{"required", []string{names[0]}}},
				object{{"required", []string{names[1]}}},
			}}})
		}
	}
	oneofs := md.Oneofs()
	for i := 0; i < oneofs.Len(); i++ {
		od := oneofs.Get(i)
		if od.IsSynthetic() { // proto3 optional: one field, nothing to exclude
			continue
		}
		members := od.Fields()
		for x := 0; x < members.Len(); x++ {
			for y := x + 1; y < members.Len(); y++ {
				for _, a := range fieldNames(members.Get(x)) {
					for _, c := range fieldNames(members.Get(y)) {
						conflicts = append(conflicts, [2]string{a, c})
					}
				}
			}
		}
	}
	if props == nil {
		props = object{}
	}
	s = append(s, member{"properties", props}, member{"additionalProperties", false})
	if len(required) > 0 {
		s = append(s, member{"required", required})
	}
	if len(conflicts) > 0 {
		anyOf := make([]any, len(conflicts))
		for i, c := range conflicts {
			anyOf[i] = object{{"required", []string{c[0], c[1]}}}
		}
		// "Not two of these together": one name per field, one member per oneof.
		allOf = append(allOf, object{{"not", object{{"anyOf", anyOf}}}})
	}
	if len(allOf) > 0 {
		s = append(s, member{"allOf", allOf})
	}
	return s
}

// fieldNames are the property names protojson accepts for fd: its proto name, then its
// json_name when that differs.
func fieldNames(fd protoreflect.FieldDescriptor) []string {
	if fd.JSONName() == string(fd.Name()) {
		return []string{string(fd.Name())}
	}
	return []string{string(fd.Name()), fd.JSONName()}
}

// field is the schema of one field's value, with its cardinality and description.
func (b *jsBuilder) field(fd protoreflect.FieldDescriptor) object {
	var s object
	required := fieldRequired(fd)
	switch {
	case fd.IsMap():
		s = object{{"type", "object"}}
		if k := mapKey(fd.MapKey()); k != nil {
			s = append(s, member{"propertyNames", k})
		}
		s = append(s, member{"additionalProperties", b.value(fd.MapValue())})
		if required {
			s = append(s, member{"minProperties", 1})
		}
	case fd.IsList():
		s = object{{"type", "array"}, {"items", b.value(fd)}}
		if required {
			s = append(s, member{"minItems", 1})
		}
	default:
		s = b.value(fd)
	}
	if d := Description(fd); d != "" {
		s = append(object{{"description", d}}, s...)
	}
	return s
}

// mapKey is the schema of a map key as protojson writes it (always a JSON string), or nil for
// string keys, which any property name satisfies.
func mapKey(fd protoreflect.FieldDescriptor) object {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return object{{"enum", []string{"true", "false"}}}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return object{{"pattern", patternUint64}}
	case protoreflect.StringKind:
		return nil // any string
	}
	return object{{"pattern", patternInt64}}
}

// value is the schema of one value of fd, ignoring its cardinality.
func (b *jsBuilder) value(fd protoreflect.FieldDescriptor) object {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return object{{"type", "boolean"}}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return object{{"type", "integer"}, {"minimum", -2147483648}, {"maximum", 2147483647}}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return object{{"type", "integer"}, {"minimum", 0}, {"maximum", 4294967295}}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return object{{"anyOf", []any{
			object{{"type", "integer"}, {"minimum", minInt64}, {"maximum", maxInt64}},
			object{{"type", "string"}, {"pattern", patternInt64}},
		}}}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return object{{"anyOf", []any{
			object{{"type", "integer"}, {"minimum", 0}, {"maximum", maxUint64}},
			object{{"type", "string"}, {"pattern", patternUint64}},
		}}}
	case protoreflect.FloatKind:
		return object{{"anyOf", []any{
			object{{"type", "number"}, {"minimum", minFloat32}, {"maximum", maxFloat32}},
			object{{"enum", []string{"NaN", "Infinity", "-Infinity"}}},
		}}}
	case protoreflect.DoubleKind:
		return object{{"anyOf", []any{
			object{{"type", "number"}},
			object{{"enum", []string{"NaN", "Infinity", "-Infinity"}}},
		}}}
	case protoreflect.StringKind:
		return object{{"type", "string"}}
	case protoreflect.BytesKind:
		return object{{"type", "string"}, {"contentEncoding", "base64"}, {"pattern", patternBase64}}
	case protoreflect.EnumKind:
		return enumSchema(fd.Enum())
	}
	md := fd.Message()
	switch md.FullName() {
	case nameDuration:
		return object{{"type", "string"}, {"pattern", patternDuration}}
	case nameFieldMask:
		return object{{"type", "string"}}
	case nameStruct:
		return object{{"type", "object"}}
	case nameListValue:
		return object{{"type", "array"}}
	case nameValue:
		return object{} // any JSON value (null is a Value too)
	case nameAny:
		return object{{"type", "object"}, {"properties", object{{"@type", object{{"type", "string"}, {"minLength", 1}}}}}, {"required", []string{"@type"}}}
	}
	switch classify(md) {
	case msgTimestamp:
		return object{{"type", "string"}, {"format", "date-time"}, {"pattern", patternTimestamp}}
	case msgDate:
		// A full calendar date: BigQuery DATE and Delta date hold no partial dates.
		return object{
			{"type", "object"},
			{"properties", object{
				{"year", object{{"type", "integer"}, {"minimum", 1}, {"maximum", 9999}}},
				{"month", object{{"type", "integer"}, {"minimum", 1}, {"maximum", 12}}},
				{"day", object{{"type", "integer"}, {"minimum", 1}, {"maximum", 31}}},
			}},
			{"required", []string{"year", "month", "day"}},
			{"additionalProperties", false},
		}
	case msgWrapper:
		return b.value(unwrap(fd))
	}
	if _, ok := b.defs[md.FullName()]; !ok {
		b.defs[md.FullName()] = nil // reserve: Check rules out recursion, this keeps order stable
		b.order = append(b.order, md.FullName())
		b.defs[md.FullName()] = b.message(md)
	}
	return object{{"$ref", "#/$defs/" + string(md.FullName())}}
}

// enumSchema accepts the value names, then the distinct numbers, in declaration order.
func enumSchema(ed protoreflect.EnumDescriptor) object {
	values := ed.Values()
	names := make([]any, 0, 2*values.Len())
	var numbers []any
	seen := map[protoreflect.EnumNumber]bool{}
	for i := 0; i < values.Len(); i++ {
		v := values.Get(i)
		names = append(names, string(v.Name()))
		if !seen[v.Number()] {
			seen[v.Number()] = true
			numbers = append(numbers, int32(v.Number()))
		}
	}
	return object{{"enum", append(names, numbers...)}}
}

// object is a JSON object that keeps its members in insertion order, so schemas read in
// declaration order and are byte-for-byte deterministic.
type object []member

type member struct {
	key   string
	value any
}

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := rawJSON(m.key)
		if err != nil {
			return nil, err
		}
		v, err := rawJSON(m.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
