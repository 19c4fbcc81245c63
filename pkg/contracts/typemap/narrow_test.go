package typemap_test

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

// intRange is the set of integers a type holds.
type intRange struct{ min, max *big.Int }

func pow2(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }

func signed(bits uint) intRange {
	return intRange{new(big.Int).Neg(pow2(bits - 1)), new(big.Int).Sub(pow2(bits-1), big.NewInt(1))}
}

func unsigned(bits uint) intRange {
	return intRange{big.NewInt(0), new(big.Int).Sub(pow2(bits), big.NewInt(1))}
}

func digits(n int64) intRange {
	m := new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil), big.NewInt(1))
	return intRange{new(big.Int).Neg(m), m}
}

func (r intRange) holds(o intRange) bool { return r.min.Cmp(o.min) <= 0 && r.max.Cmp(o.max) >= 0 }

// protoInt is the range of an integer proto kind; ok is false for other kinds.
func protoInt(k protoreflect.Kind) (intRange, bool) {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.EnumKind:
		return signed(32), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return unsigned(32), true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return signed(64), true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return unsigned(64), true
	}
	return intRange{}, false
}

var (
	bqInts    = map[string]intRange{"INTEGER": signed(64), "NUMERIC": digits(29), "BIGNUMERIC": digits(38)}
	deltaInts = map[string]intRange{"byte": signed(8), "short": signed(16), "integer": signed(32), "long": signed(64), "decimal(20,0)": digits(20)}
)

// leaf is one scalar value position in a message: a field, a list element, a map key or value.
type leaf struct {
	path string // "items.price.micros", "m_counts.key"
	fd   protoreflect.FieldDescriptor
}

// leaves lists every scalar position of md, following records (not Timestamp, Date or JSON).
func leaves(md protoreflect.MessageDescriptor, path string) []leaf {
	var out []leaf
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		p := path + string(fd.Name())
		if fd.IsMap() {
			out = append(out, leaves(fd.Message(), p+".")...)
			continue
		}
		if fd.Kind() == protoreflect.MessageKind {
			m := fd.Message()
			switch {
			case strings.HasSuffix(string(m.FullName()), "Value") && m.ParentFile().Package() == "google.protobuf" && m.Fields().Len() == 1 && m.Fields().Get(0).Name() == "value":
				out = append(out, leaf{p, m.Fields().Get(0)}) // a wrapper
			case m.ParentFile().Package() == "google.protobuf" && m.FullName() != "google.protobuf.Duration" && m.FullName() != "google.protobuf.FieldMask",
				m.FullName() == "google.type.Date":
			default:
				out = append(out, leaves(m, p+".")...)
			}
			continue
		}
		out = append(out, leaf{p, fd})
	}
	return out
}

// TestNeverNarrower walks every output for every integer and float position of the test
// contracts and checks its column or schema holds every value of the proto type: in particular,
// no 64-bit integer ever lands in a 32-bit (or floating) column.
func TestNeverNarrower(t *testing.T) {
	for _, rel := range []string{"raw/everything.proto", "feed/video_played.proto"} {
		md := testdataMessage(t, rel)
		bq, err := typemap.BigQuery(md)
		if err != nil {
			t.Fatal(err)
		}
		dl, err := typemap.Delta(md)
		if err != nil {
			t.Fatal(err)
		}
		js, err := typemap.JSONSchema(md)
		if err != nil {
			t.Fatal(err)
		}
		var schema map[string]any
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.UseNumber()
		if err := dec.Decode(&schema); err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, l := range leaves(md, "") {
			bqType := bqAt(t, bq, l.path)
			dlType := deltaAt(t, dl, l.path)
			jsAt := jsonAt(t, schema, schema, l.path)
			if k := l.fd.Kind(); k == protoreflect.FloatKind || k == protoreflect.DoubleKind {
				if bqType != "FLOAT" || (dlType != "double" && !(dlType == "float" && k == protoreflect.FloatKind)) {
					t.Errorf("%s %s: %s / %s", l.path, k, bqType, dlType)
				}
				checked++
				continue
			}
			want, ok := protoInt(l.fd.Kind())
			if !ok || l.fd.Kind() == protoreflect.EnumKind {
				continue
			}
			checked++
			if r, ok := bqInts[bqType]; !ok || !r.holds(want) {
				t.Errorf("%s (%s): BigQuery %s is narrower", l.path, l.fd.Kind(), bqType)
			}
			if r, ok := deltaInts[dlType]; !ok || !r.holds(want) {
				t.Errorf("%s (%s): Delta %s is narrower", l.path, l.fd.Kind(), dlType)
			}
			if jsAt == nil {
				continue
			}
			if r, ok := jsonIntRange(jsAt); !ok || !r.holds(want) {
				t.Errorf("%s (%s): JSON Schema %v is narrower", l.path, l.fd.Kind(), jsAt)
			}
		}
		if checked < 3 {
			t.Fatalf("%s: only %d numeric positions checked", rel, checked)
		}
	}
}

func bqAt(t *testing.T, fields []typemap.BQField, path string) string {
	t.Helper()
	name, rest, nested := strings.Cut(path, ".")
	for _, f := range fields {
		if f.Name == name {
			if nested {
				return bqAt(t, f.Fields, rest)
			}
			return f.Type
		}
	}
	t.Fatalf("bigquery: no column %s", path)
	return ""
}

func deltaAt(t *testing.T, st typemap.StructType, path string) string {
	t.Helper()
	name, rest, _ := strings.Cut(path, ".")
	for _, f := range st.Fields {
		if f.Name == name {
			return deltaTypeAt(t, f.Type, rest)
		}
	}
	t.Fatalf("delta: no column %s", path)
	return ""
}

func deltaTypeAt(t *testing.T, dt typemap.DataType, rest string) string {
	t.Helper()
	switch {
	case dt.Array != nil:
		return deltaTypeAt(t, dt.Array.ElementType, rest)
	case dt.Map != nil:
		part, more, _ := strings.Cut(rest, ".")
		if part == "key" {
			return deltaTypeAt(t, dt.Map.KeyType, more)
		}
		return deltaTypeAt(t, dt.Map.ValueType, more)
	case dt.Struct != nil:
		return deltaAt(t, *dt.Struct, rest)
	}
	return dt.Primitive
}

// jsonAt finds the schema of a value position, through $ref, items and additionalProperties.
func jsonAt(t *testing.T, root, s map[string]any, path string) map[string]any {
	t.Helper()
	s = deref(root, s)
	if path == "" {
		if s["type"] == "array" { // a repeated field: its elements
			return deref(root, s["items"].(map[string]any))
		}
		return s
	}
	switch s["type"] {
	case "string": // a message protojson writes as a string (Duration): nothing below
		return nil
	case "array":
		return jsonAt(t, root, s["items"].(map[string]any), path)
	case "object":
		if props, ok := s["properties"].(map[string]any); ok {
			name, rest, _ := strings.Cut(path, ".")
			p, ok := props[name].(map[string]any)
			if !ok {
				t.Fatalf("json schema: no property %s", name)
			}
			return jsonAt(t, root, p, rest)
		}
		part, more, _ := strings.Cut(path, ".")
		if part == "key" {
			pn, _ := s["propertyNames"].(map[string]any) // absent for string keys
			return pn
		}
		return jsonAt(t, root, s["additionalProperties"].(map[string]any), more)
	}
	t.Fatalf("json schema: cannot descend into %v for %s", s, path)
	return nil
}

func deref(root, s map[string]any) map[string]any {
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	return root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
}

// jsonIntRange is the integer range the schema's integer branch accepts. A map key schema (a
// digit pattern) counts as unbounded.
func jsonIntRange(s map[string]any) (intRange, bool) {
	branches := []any{s}
	if a, ok := s["anyOf"].([]any); ok {
		branches = a
	}
	for _, b := range branches {
		m := b.(map[string]any)
		if m["type"] != "integer" {
			continue
		}
		lo, ok1 := new(big.Int).SetString(string(m["minimum"].(json.Number)), 10)
		hi, ok2 := new(big.Int).SetString(string(m["maximum"].(json.Number)), 10)
		return intRange{lo, hi}, ok1 && ok2
	}
	if p, ok := s["pattern"].(string); ok && strings.Contains(p, "[0-9]") {
		return digits(100), true
	}
	return intRange{}, false
}
