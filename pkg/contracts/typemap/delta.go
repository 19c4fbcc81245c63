package typemap

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Delta primitive type names, from the Delta protocol's "Schema Serialization Format".
const (
	DeltaString    = "string"
	DeltaLong      = "long"
	DeltaInteger   = "integer"
	DeltaFloat     = "float"
	DeltaDouble    = "double"
	DeltaBoolean   = "boolean"
	DeltaBinary    = "binary"
	DeltaDate      = "date"
	DeltaTimestamp = "timestamp"
	// DeltaUint64 holds every uint64: 2^64-1 has 20 digits, and long stops at 2^63-1.
	DeltaUint64 = "decimal(20,0)"
)

// DeltaCommentKey is the column metadata key that holds a field's description (Spark's
// convention, shown by DESCRIBE TABLE).
const DeltaCommentKey = "comment"

// StructType is a Delta struct: the table schema itself or a nested struct column.
type StructType struct {
	Fields []StructField
}

// StructField is one column of a StructType.
type StructField struct {
	Name     string         `json:"name"`
	Type     DataType       `json:"type"`
	Nullable bool           `json:"nullable"`
	Metadata map[string]any `json:"metadata"`
}

// DataType is a Delta column type: exactly one of a primitive name ("long", "decimal(20,0)"),
// a struct, an array or a map.
type DataType struct {
	Primitive string
	Struct    *StructType
	Array     *ArrayType
	Map       *MapType
}

// ArrayType is a Delta array.
type ArrayType struct {
	ElementType  DataType
	ContainsNull bool
}

// MapType is a Delta map.
type MapType struct {
	KeyType           DataType
	ValueType         DataType
	ValueContainsNull bool
}

// Delta maps an event message to a Delta table schema, one column per field in declaration
// order, named by proto field name. It returns a *FieldError when Check does.
//
// Proto guarantees what Spark's protobuf connector also assumes: list elements and map values
// are never null (containsNull and valueContainsNull are false), and any column may be absent
// (nullable) unless the field carries evctl's required option.
func Delta(md protoreflect.MessageDescriptor) (StructType, error) {
	if err := Check(md); err != nil {
		return StructType{}, err
	}
	return deltaStruct(md, md, "")
}

// DeltaSchemaString is Delta(md) serialized as the schemaString of a metaData action in the
// Delta transaction log (compact JSON).
func DeltaSchemaString(md protoreflect.MessageDescriptor) (string, error) {
	st, err := Delta(md)
	if err != nil {
		return "", err
	}
	b, err := encodeJSON(st, false)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ParseDeltaSchema decodes a schemaString read from a Delta log, for comparing a live table
// with Delta(md). Metadata numbers decode as float64.
func ParseDeltaSchema(s string) (StructType, error) {
	var st StructType
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return StructType{}, fmt.Errorf("typemap: parse delta schema: %w", err)
	}
	return st, nil
}

func deltaStruct(root, md protoreflect.MessageDescriptor, path string) (StructType, error) {
	fields := md.Fields()
	st := StructType{Fields: make([]StructField, 0, fields.Len())}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		p := joinPath(path, string(fd.Name()))
		t, err := deltaFieldType(root, fd, p)
		if err != nil {
			return StructType{}, err
		}
		meta := map[string]any{}
		if d := Description(fd); d != "" {
			meta[DeltaCommentKey] = d
		}
		st.Fields = append(st.Fields, StructField{
			Name:     string(fd.Name()),
			Type:     t,
			Nullable: !fieldRequired(fd),
			Metadata: meta,
		})
	}
	return st, nil
}

// deltaFieldType is the type of fd's column, taking repeated and map into account.
func deltaFieldType(root protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, path string) (DataType, error) {
	if fd.IsMap() {
		k, err := deltaValueType(root, fd.MapKey(), path)
		if err != nil {
			return DataType{}, err
		}
		v, err := deltaValueType(root, fd.MapValue(), path)
		if err != nil {
			return DataType{}, err
		}
		return DataType{Map: &MapType{KeyType: k, ValueType: v}}, nil
	}
	t, err := deltaValueType(root, fd, path)
	if err != nil || !fd.IsList() {
		return t, err
	}
	return DataType{Array: &ArrayType{ElementType: t}}, nil
}

// deltaValueType is the type of one value of fd, ignoring its cardinality.
func deltaValueType(root protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, path string) (DataType, error) {
	t := unwrap(fd)
	prim := func(name string) (DataType, error) { return DataType{Primitive: name}, nil }
	switch t.Kind() {
	case protoreflect.BoolKind:
		return prim(DeltaBoolean)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return prim(DeltaInteger)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind: // uint32 overflows integer
		return prim(DeltaLong)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return prim(DeltaUint64)
	case protoreflect.FloatKind:
		return prim(DeltaFloat)
	case protoreflect.DoubleKind:
		return prim(DeltaDouble)
	case protoreflect.StringKind, protoreflect.EnumKind:
		return prim(DeltaString)
	case protoreflect.BytesKind:
		return prim(DeltaBinary)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch classify(t.Message()) {
		case msgTimestamp:
			return prim(DeltaTimestamp)
		case msgDate:
			return prim(DeltaDate)
		case msgJSON:
			// The protojson text: Delta's variant type needs a reader feature most engines lack.
			return prim(DeltaString)
		}
		st, err := deltaStruct(root, t.Message(), path)
		if err != nil {
			return DataType{}, err
		}
		return DataType{Struct: &st}, nil
	}
	return DataType{}, &FieldError{Message: root.FullName(), Path: path, Err: fmt.Errorf("%w: field kind %s", ErrUnsupported, t.Kind())}
}

// MarshalJSON writes {"type":"struct","fields":[...]}.
func (s StructType) MarshalJSON() ([]byte, error) {
	fields := s.Fields
	if fields == nil {
		fields = []StructField{}
	}
	return rawJSON(struct {
		Type   string        `json:"type"`
		Fields []StructField `json:"fields"`
	}{"struct", fields})
}

// UnmarshalJSON reads a struct type, refusing any other.
func (s *StructType) UnmarshalJSON(b []byte) error {
	var v struct {
		Type   string        `json:"type"`
		Fields []StructField `json:"fields"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.Type != "struct" {
		return fmt.Errorf("want type struct, got %q", v.Type)
	}
	// Another writer's log may hold anything: a field without a name or a type is refused here
	// rather than compared as if it were a column (found by FuzzParseDeltaSchema).
	for i, f := range v.Fields {
		if f.Name == "" {
			return fmt.Errorf("field %d has no name", i)
		}
		if f.Type.Primitive == "" && f.Type.Struct == nil && f.Type.Array == nil && f.Type.Map == nil {
			return fmt.Errorf("field %q has no type", f.Name)
		}
	}
	s.Fields = v.Fields
	return nil
}

// MarshalJSON writes the field, with metadata {} rather than null when empty.
func (f StructField) MarshalJSON() ([]byte, error) {
	type plain StructField
	p := plain(f)
	if p.Metadata == nil {
		p.Metadata = map[string]any{}
	}
	return rawJSON(p)
}

// MarshalJSON writes a primitive as its name and a complex type as its object.
func (t DataType) MarshalJSON() ([]byte, error) {
	switch {
	case t.Struct != nil:
		return rawJSON(t.Struct)
	case t.Array != nil:
		return rawJSON(struct {
			Type         string   `json:"type"`
			ElementType  DataType `json:"elementType"`
			ContainsNull bool     `json:"containsNull"`
		}{"array", t.Array.ElementType, t.Array.ContainsNull})
	case t.Map != nil:
		return rawJSON(struct {
			Type              string   `json:"type"`
			KeyType           DataType `json:"keyType"`
			ValueType         DataType `json:"valueType"`
			ValueContainsNull bool     `json:"valueContainsNull"`
		}{"map", t.Map.KeyType, t.Map.ValueType, t.Map.ValueContainsNull})
	case t.Primitive != "":
		return rawJSON(t.Primitive)
	}
	return nil, fmt.Errorf("typemap: empty delta data type")
}

// UnmarshalJSON reads any type of the serialization format.
func (t *DataType) UnmarshalJSON(b []byte) error {
	*t = DataType{}
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &t.Primitive); err != nil {
			return err
		}
		if t.Primitive == "" {
			return fmt.Errorf("empty delta type name")
		}
		return nil
	}
	var v struct {
		Type              string          `json:"type"`
		ElementType       json.RawMessage `json:"elementType"`
		ContainsNull      bool            `json:"containsNull"`
		KeyType           json.RawMessage `json:"keyType"`
		ValueType         json.RawMessage `json:"valueType"`
		ValueContainsNull bool            `json:"valueContainsNull"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v.Type {
	case "struct":
		t.Struct = new(StructType)
		return json.Unmarshal(b, t.Struct)
	case "array":
		t.Array = &ArrayType{ContainsNull: v.ContainsNull}
		return json.Unmarshal(v.ElementType, &t.Array.ElementType)
	case "map":
		t.Map = &MapType{ValueContainsNull: v.ValueContainsNull}
		if err := json.Unmarshal(v.KeyType, &t.Map.KeyType); err != nil {
			return err
		}
		return json.Unmarshal(v.ValueType, &t.Map.ValueType)
	}
	return fmt.Errorf("unknown delta type %q", v.Type)
}

// String is the type's serialized form, e.g. long or {"type":"array",...}.
func (t DataType) String() string {
	b, err := encodeJSON(t, false)
	if err != nil {
		return "<invalid>"
	}
	if t.Primitive != "" && t.Struct == nil && t.Array == nil && t.Map == nil {
		return t.Primitive
	}
	return string(b)
}

// encodeJSON marshals without HTML escaping (descriptions keep their < and &), indented for
// files people read, with a trailing newline then.
func encodeJSON(v any, indent bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("typemap: encode: %w", err)
	}
	if !indent {
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	return buf.Bytes(), nil
}

// rawJSON is compact json.Marshal without HTML escaping, for MarshalJSON methods (an outer
// encoder cannot undo the escaping an inner json.Marshal did).
func rawJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
