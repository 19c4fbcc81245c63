package typemap

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// CHFeatures are the column types a ClickHouse server has, decided by its version (SELECT
// version()). The mapping uses the newest type the server has and, where it lacks one, a form
// that keeps every value exactly (never a narrower type): see docs/type-mapping.md.
type CHFeatures struct {
	Version string
	// DateTime64 (20.1+): timestamps in one DateTime64(9, 'UTC') column. Without it a timestamp
	// is a DateTime('UTC') (seconds) plus a "<name>__nanos" UInt32 column with the fraction.
	DateTime64 bool
	// Map (22.1+, GA): a scalar map<K,V> is Map(K, V). Without it, two Nested arrays
	// "<name>.key" and "<name>.value" of equal length.
	Map bool
	// Bool (22.1+): bool is Bool. Without it, UInt8 (0 or 1).
	Bool bool
	// LowCardinality (19.1+ without an experimental setting): the ingest bookkeeping column
	// _topic uses it. Contract enums are Enum8/Enum16 on every version.
	LowCardinality bool
	// TTL (19.6+): sinks.clickhouse.ttl becomes a table TTL; without it the ttl is not applied
	// and the plan says so.
	TTL bool
}

// CHFeaturesFor returns the features of the server version "major.minor[.patch...]"; an
// unparsable version gets none (the 18.16 forms, which every version accepts).
func CHFeaturesFor(version string) CHFeatures {
	f := CHFeatures{Version: version}
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return f
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return f
	}
	atLeast := func(a, b int) bool { return major > a || (major == a && minor >= b) }
	f.DateTime64 = atLeast(20, 1)
	f.Map = atLeast(22, 1)
	f.Bool = atLeast(22, 1)
	f.LowCardinality = atLeast(19, 1)
	f.TTL = atLeast(19, 6)
	return f
}

// CHColumn is one column of a ClickHouse table.
type CHColumn struct {
	Name string `json:"name"` // "video_id", "device__model", "parts.sku", "event_time__nanos"
	Type string `json:"type"` // as system.columns reports it: "Nullable(String)"

	path []chStep // how CHRowEncoder reads the value from a message
	leaf chLeaf
}

// NanosSuffix names the column that holds a timestamp's fraction of a second on servers
// without DateTime64.
const NanosSuffix = "__nanos"

// chStep is one field on the way from the event message to a column's value.
type chStep struct {
	fd   protoreflect.FieldDescriptor
	role chRole
}

type chRole int

const (
	roleRecord  chRole = iota // a singular record: descend
	roleRecords               // a repeated record: one array element per record
	roleMapKeys               // a map (Nested form): its keys, as an array
	roleMapVals               // a map (Nested form): its values, as an array
	roleLeaf                  // the field holding the value (maybe a list)
)

// chLeaf says what part of the final value a column holds.
type chLeaf int

const (
	leafValue chLeaf = iota
	leafNanos
	leafMap // the whole map, as a Map(K,V)
)

// ClickHouse maps an event message to the columns of a ClickHouse table on a server with
// features f, one or more columns per field in declaration order:
//   - a scalar is one column, Nullable unless the field (and every record above it) is required;
//   - a record's fields are columns named "<record>__<field>" (a double underscore: a dot would
//     make ClickHouse treat sibling array columns as one Nested structure of equal sizes);
//   - a repeated record is Nested: "<record>.<field>" Array columns, one element per record;
//   - a repeated scalar is Array(T) (never Nullable: protobuf lists hold no nulls);
//   - a map is Map(K,V) where the server has it, else Nested "<map>.key" and "<map>.value";
//   - a timestamp without DateTime64 adds "<name>__nanos".
//
// It returns a *FieldError when Check does, or when two columns would get the same name.
func ClickHouse(md protoreflect.MessageDescriptor, f CHFeatures) ([]CHColumn, error) {
	if err := Check(md); err != nil {
		return nil, err
	}
	var out []CHColumn
	if err := chFields(md, md, f, chCtx{}, &out); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range out {
		if seen[c.Name] {
			return nil, &FieldError{Message: md.FullName(), Path: c.Name, Err: fmt.Errorf("%w: two fields map to ClickHouse column %q", ErrNameConflict, c.Name)}
		}
		seen[c.Name] = true
	}
	return out, nil
}

// chCtx is where a field sits: its column name prefix, how many arrays enclose it, whether an
// enclosing singular record is optional, and whether a Nested group (a dot) was opened.
type chCtx struct {
	prefix   string
	arrays   int
	optional bool
	nested   bool
	path     []chStep
}

func (c chCtx) name(field string) string {
	if c.prefix == "" {
		return field
	}
	return c.prefix + field
}

func (c chCtx) with(step chStep) []chStep {
	return append(c.path[:len(c.path):len(c.path)], step)
}

func chFields(root, md protoreflect.MessageDescriptor, f CHFeatures, c chCtx, out *[]CHColumn) error {
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		if err := chField(root, fields.Get(i), f, c, out); err != nil {
			return err
		}
	}
	return nil
}

func chField(root protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, f CHFeatures, c chCtx, out *[]CHColumn) error {
	name := c.name(string(fd.Name()))
	fail := func(err error) error { return &FieldError{Message: root.FullName(), Path: name, Err: err} }
	// A separator for what is below this field: "." opens a Nested group (arrays of equal
	// length) once; below it, and for singular records, "__".
	sub := func(opensArray bool) string {
		if opensArray && !c.nested {
			return name + "."
		}
		return name + "__"
	}
	if fd.IsMap() {
		k, v := fd.MapKey(), fd.MapValue()
		if f.Map && v.Kind() != protoreflect.MessageKind {
			kt, _ := chScalar(k, f)
			vt, _ := chScalar(v, f)
			*out = append(*out, CHColumn{Name: name, Type: arrays(fmt.Sprintf("Map(%s, %s)", kt, vt), c.arrays),
				path: c.with(chStep{fd, roleLeaf}), leaf: leafMap})
			return nil
		}
		inner := chCtx{prefix: sub(true), arrays: c.arrays + 1, nested: true}
		kc := inner
		kc.path = c.with(chStep{fd, roleMapKeys})
		if err := chLeafCols(root, k, f, kc, "key", false, out); err != nil {
			return err
		}
		vc := inner
		vc.path = c.with(chStep{fd, roleMapVals})
		if v.Kind() == protoreflect.MessageKind && classify(v.Message()) == msgRecord {
			vc.prefix = inner.prefix + "value__"
			vc.optional = true
			return chFields(root, v.Message(), f, vc, out)
		}
		return chLeafCols(root, v, f, vc, "value", false, out)
	}
	t := unwrap(fd)
	if t.Kind() == protoreflect.MessageKind || t.Kind() == protoreflect.GroupKind {
		if classify(t.Message()) == msgRecord {
			if fd.IsList() {
				rc := chCtx{prefix: sub(true), arrays: c.arrays + 1, nested: true, path: c.with(chStep{fd, roleRecords})}
				return chFields(root, t.Message(), f, rc, out)
			}
			rc := chCtx{prefix: sub(false), arrays: c.arrays, nested: c.nested,
				optional: c.optional || !fieldRequired(fd), path: c.with(chStep{fd, roleRecord})}
			return chFields(root, t.Message(), f, rc, out)
		}
	}
	lc := c
	lc.prefix = ""
	lc.path = c.with(chStep{fd, roleLeaf})
	if fd.IsList() {
		lc.arrays++
	}
	nullable := !fd.IsList() && (c.optional || !fieldRequired(fd))
	if err := chLeafCols(root, fd, f, lc, name, nullable, out); err != nil {
		return fail(err)
	}
	return nil
}

// chLeafCols appends the column(s) of one value: one, or two for a timestamp without DateTime64.
// c.path already ends at the value's field (or map step).
func chLeafCols(root protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, f CHFeatures, c chCtx, name string, nullable bool, out *[]CHColumn) error {
	name = c.prefix + name
	typ, nanos := chScalar(fd, f)
	if typ == "" {
		return &FieldError{Message: root.FullName(), Path: name, Err: fmt.Errorf("%w: field kind %s", ErrUnsupported, fd.Kind())}
	}
	wrap := func(t string) string {
		if nullable {
			t = "Nullable(" + t + ")"
		}
		return arrays(t, c.arrays)
	}
	*out = append(*out, CHColumn{Name: name, Type: wrap(typ), path: c.path, leaf: leafValue})
	if nanos {
		*out = append(*out, CHColumn{Name: name + NanosSuffix, Type: wrap("UInt32"), path: c.path, leaf: leafNanos})
	}
	return nil
}

func arrays(t string, n int) string {
	for ; n > 0; n-- {
		t = "Array(" + t + ")"
	}
	return t
}

// chScalar is the ClickHouse type of a non-record value, and whether it needs a nanos column.
func chScalar(fd protoreflect.FieldDescriptor, f CHFeatures) (string, bool) {
	t := unwrap(fd)
	switch t.Kind() {
	case protoreflect.BoolKind:
		if f.Bool {
			return "Bool", false
		}
		return "UInt8", false
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "Int32", false
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "UInt32", false
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "Int64", false
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "UInt64", false
	case protoreflect.FloatKind:
		return "Float32", false
	case protoreflect.DoubleKind:
		return "Float64", false
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "String", false // ClickHouse strings are bytes: bytes land unchanged
	case protoreflect.EnumKind:
		return chEnum(t.Enum()), false
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch classify(t.Message()) {
		case msgTimestamp:
			if f.DateTime64 {
				return "DateTime64(9, 'UTC')", false
			}
			return "DateTime('UTC')", true
		case msgDate:
			return "Date", false
		case msgJSON:
			return "String", false // the protojson text
		}
	}
	return "", false
}

// chEnum is Enum8 when every number fits in an Int8, Enum16 when they fit in an Int16, and the
// value name as a String otherwise (ClickHouse enums stop at 16 bits).
func chEnum(ed protoreflect.EnumDescriptor) string {
	vals := ed.Values()
	width := "Enum8"
	for i := 0; i < vals.Len(); i++ {
		n := vals.Get(i).Number()
		if n < -32768 || n > 32767 {
			return "String"
		}
		if n < -128 || n > 127 {
			width = "Enum16"
		}
	}
	var b strings.Builder
	b.WriteString(width + "(")
	for i := 0; i < vals.Len(); i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "'%s' = %d", vals.Get(i).Name(), vals.Get(i).Number())
	}
	b.WriteString(")")
	return b.String()
}
