package typemap

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// BigQuery column types. They are the names the BigQuery API reports back for a table
// (tables.get says INTEGER for a column created as INT64), which are also the values of
// cloud.google.com/go/bigquery's FieldType, so a desired schema compares equal to a live one.
// INTEGER is BigQuery's only integer type and is 64-bit; FLOAT is a 64-bit double.
const (
	BQString    = "STRING"
	BQBytes     = "BYTES"
	BQInteger   = "INTEGER"
	BQFloat     = "FLOAT"
	BQBoolean   = "BOOLEAN"
	BQTimestamp = "TIMESTAMP"
	BQDate      = "DATE"
	BQNumeric   = "NUMERIC"
	BQJSON      = "JSON"
	BQRecord    = "RECORD"
)

// BigQuery column modes.
const (
	BQNullable = "NULLABLE"
	BQRequired = "REQUIRED"
	BQRepeated = "REPEATED"
)

// bqMaxDepth is BigQuery's limit on nested RECORD levels; bqMaxDescription its limit on a
// column description, in characters.
const (
	bqMaxDepth       = 15
	bqMaxDescription = 1024
)

// bqReservedPrefixes are column name prefixes BigQuery refuses (compared case-insensitively).
var bqReservedPrefixes = []string{
	"_TABLE_", "_FILE_", "_PARTITION", "_ROW_TIMESTAMP", "__ROOT__", "_COLIDENTIFIER",
	"_CHANGE_SEQUENCE_NUMBER", "_CHANGE_TYPE", "_CHANGE_TIMESTAMP",
}

// BQField is one column of a BigQuery table schema. A []BQField encodes to exactly the JSON
// file `bq mk --schema file.json` and the tables API accept.
type BQField struct {
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Mode        string    `json:"mode"`
	Description string    `json:"description,omitempty"`
	Fields      []BQField `json:"fields,omitempty"`
}

// BigQuery maps an event message to a BigQuery table schema, one column per field in
// declaration order. Column names are proto field names. It returns a *FieldError (see Check)
// when the message cannot be held in a table, or when a field breaks a BigQuery limit: more than
// 15 nested levels, a top-level name with a reserved prefix such as _PARTITION.
func BigQuery(md protoreflect.MessageDescriptor) ([]BQField, error) {
	if err := Check(md); err != nil {
		return nil, err
	}
	return bqFields(md, md, "", 1)
}

// BigQueryJSON is BigQuery(md) encoded as an indented schema file for `bq mk --schema`.
func BigQueryJSON(md protoreflect.MessageDescriptor) ([]byte, error) {
	fields, err := BigQuery(md)
	if err != nil {
		return nil, err
	}
	return encodeJSON(fields, true)
}

// CanonicalBQType returns the name the BigQuery API reports for a column type given under any
// of its aliases (INT64 → INTEGER, FLOAT64 → FLOAT, BOOL → BOOLEAN, STRUCT → RECORD,
// DECIMAL → NUMERIC, BIGDECIMAL → BIGNUMERIC), so schemas written either way compare equal.
func CanonicalBQType(t string) string {
	switch t = strings.ToUpper(t); t {
	case "INT64":
		return BQInteger
	case "FLOAT64":
		return BQFloat
	case "BOOL":
		return BQBoolean
	case "STRUCT":
		return BQRecord
	case "DECIMAL":
		return BQNumeric
	case "BIGDECIMAL":
		return "BIGNUMERIC"
	}
	return t
}

func bqFields(root, md protoreflect.MessageDescriptor, path string, depth int) ([]BQField, error) {
	if depth > bqMaxDepth {
		return nil, &FieldError{Message: root.FullName(), Path: path,
			Err: fmt.Errorf("%w: more than %d nested levels (BigQuery's limit)", ErrUnsupported, bqMaxDepth)}
	}
	fields := md.Fields()
	out := make([]BQField, 0, fields.Len())
	for i := 0; i < fields.Len(); i++ {
		f, err := bqField(root, fields.Get(i), path, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func bqField(root protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, path string, depth int) (BQField, error) {
	name := string(fd.Name())
	p := joinPath(path, name)
	if depth == 1 {
		for _, prefix := range bqReservedPrefixes {
			if strings.HasPrefix(strings.ToUpper(name), prefix) {
				return BQField{}, &FieldError{Message: root.FullName(), Path: p,
					Err: fmt.Errorf("%w: BigQuery reserves column names starting with %s", ErrUnsupported, prefix)}
			}
		}
	}
	f := BQField{Name: name, Mode: bqMode(fd), Description: truncate(Description(fd), bqMaxDescription)}
	if fd.IsMap() {
		// A map is a repeated key/value record: BigQuery has no map type.
		key, err := bqField(root, fd.MapKey(), p, depth+1)
		if err != nil {
			return BQField{}, err
		}
		key.Mode = BQRequired // a map entry always has its key
		val, err := bqField(root, fd.MapValue(), p, depth+1)
		if err != nil {
			return BQField{}, err
		}
		if depth+1 > bqMaxDepth {
			return BQField{}, &FieldError{Message: root.FullName(), Path: p,
				Err: fmt.Errorf("%w: more than %d nested levels (BigQuery's limit)", ErrUnsupported, bqMaxDepth)}
		}
		f.Type, f.Mode, f.Fields = BQRecord, BQRepeated, []BQField{key, val}
		return f, nil
	}
	t := unwrap(fd)
	switch t.Kind() {
	case protoreflect.BoolKind:
		f.Type = BQBoolean
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		f.Type = BQInteger
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// INTEGER stops at 2^63-1; NUMERIC holds 29 integer digits exactly, 2^64-1 has 20.
		f.Type = BQNumeric
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f.Type = BQFloat
	case protoreflect.StringKind, protoreflect.EnumKind:
		f.Type = BQString // enums by value name, as protojson writes them
	case protoreflect.BytesKind:
		f.Type = BQBytes
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch classify(t.Message()) {
		case msgTimestamp:
			f.Type = BQTimestamp
		case msgDate:
			f.Type = BQDate
		case msgJSON:
			f.Type = BQJSON
		default:
			sub, err := bqFields(root, t.Message(), p, depth+1)
			if err != nil {
				return BQField{}, err
			}
			f.Type, f.Fields = BQRecord, sub
		}
	default:
		return BQField{}, &FieldError{Message: root.FullName(), Path: p, Err: fmt.Errorf("%w: field kind %s", ErrUnsupported, t.Kind())}
	}
	return f, nil
}

// bqMode: repeated wins over required (a repeated column cannot be REQUIRED in BigQuery; an
// empty list is a valid value of a required repeated field).
func bqMode(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsList():
		return BQRepeated
	case fieldRequired(fd):
		return BQRequired
	}
	return BQNullable
}

// truncate shortens s to at most n characters, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
