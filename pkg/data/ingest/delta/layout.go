package delta

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/data/worker"
)

// ZstdLevel is the zstd level of every column of the data files: zstd's fastest. The spec asks
// for zstd, not a level; on the benchmark's events SpeedDefault costs about 1.8× the encoding CPU
// for files no smaller (docs/benchmarks.md has both), and compact rewrites files at the default
// level anyway. Exported so the ingest benchmark's bare-encoding baseline uses the same codec.
const ZstdLevel = zstd.SpeedFastest

// Derived partition column (see pkg/control/sink/delta): event_date is to_date(event_time) in UTC.
const (
	eventDate = "event_date"
	eventTime = "event_time"
)

type nodeKind uint8

const (
	kLeaf nodeKind = iota
	kStruct
	kList
	kMap
)

// conv says how a raw wire value becomes a Parquet value.
type conv uint8

const (
	cBool conv = iota
	cInt32
	cSint32
	cInt64 // int64, uint32 and sfixed64/fixed32 raw bits
	cSint64
	cUint64 // decimal(20,0)
	cFloat
	cDouble
	cString
	cBytes
	cEnum
	cTimestamp
	cDate
	cJSON
)

// node is one column of the file schema bound to the field of the record's message that fills it.
type node struct {
	name     string
	kind     nodeKind
	optional bool
	required bool // the column is NOT NULL: a missing value is a bad record
	field    protoreflect.FieldDescriptor
	slot     int // the field's slot in its message's plan
	// leaves
	col      int
	conv     conv
	pkind    parquet.Kind // the leaf's physical type (statistics leaves)
	wrapper  bool         // the value is field 1 of a wrapper message
	implicit bool         // proto3 implicit presence: absent means the default value
	stat     int          // index into the file's stats (top-level primitive leaves), else -1
	fast     bool         // a top-level leaf the shredder converts inline when present (shredfast.go)
	// structs
	msg      *msgPlan
	children []*node
	// lists and maps
	elem, key, val *node
	ncols, first   int
}

// layout is how records of one schema (sha256) land in files of one table schema.
type layout struct {
	schema      *parquet.Schema
	root        []*node
	top         *msgPlan
	ncols       int
	stats       []*node // top-level primitive leaves, in stat order
	partitions  []partCol
	tableSchema string // the table's schemaString this layout was built for (file writer key)
	codec       *zstd.Codec
	encodeOrder []int // the order encoders take columns in (encode.go)
	schemaID    int   // the table's id for tableSchema (fileKey), set by table.layout
}

// partCol is a partition column and how its value is derived.
type partCol struct {
	name  string
	field protoreflect.FieldDescriptor
	slot  int
	date  bool // event_date from event_time
	conv  conv
	enum  protoreflect.EnumDescriptor
}

// newLayout binds a table schema to a record message. A field of the message the table lacks,
// or a column whose type differs from the field's, is a *worker.WaitError (the table needs an
// apply); anything the table cannot hold at all is an error.
//
// codec compresses every column (nil: a new one). Each codec pools its zstd encoders (about
// 120 KB of history each): a codec per column, or per table when a worker writes thousands of
// tables, keeps that many pools of encoders alive, so a handler shares one across its tables.
func newLayout(table typemap.StructType, schemaString string, partitionBy []string, md protoreflect.MessageDescriptor, codec *zstd.Codec) (*layout, error) {
	if codec == nil {
		codec = &zstd.Codec{Level: ZstdLevel}
	}
	l := &layout{top: newMsgPlan(md), tableSchema: schemaString, codec: codec}
	if err := missingFields(table, md, ""); err != nil {
		return nil, err
	}
	group := parquet.Group{}
	var fields []typemap.StructField
	for _, f := range table.Fields {
		if slices.Contains(partitionBy, f.Name) {
			continue
		}
		fields = append(fields, f)
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	col := 0
	for _, f := range fields {
		fd := md.Fields().ByName(protoreflect.Name(f.Name))
		n, pn, err := l.build(f.Name, f.Type, f.Nullable, fd, false, &col, true)
		if err != nil {
			return nil, err
		}
		if fd != nil {
			n.slot = l.top.slotOf(fd.Number())
		}
		l.root = append(l.root, n)
		group[f.Name] = pn
	}
	l.ncols = col
	l.schema = parquet.NewSchema("evctl", group)
	if n := len(l.schema.Columns()); n != l.ncols {
		return nil, fmt.Errorf("delta: %d leaf columns in the layout but %d in the Parquet schema", l.ncols, n)
	}
	l.encodeOrder = encodeOrder(l.schema, l.ncols)
	for _, name := range partitionBy {
		pc := partCol{name: name}
		if fd := md.Fields().ByName(protoreflect.Name(name)); fd != nil {
			c, _, _, err := convOf(fd)
			if err != nil {
				return nil, err
			}
			pc.field, pc.slot, pc.conv, pc.enum = fd, l.top.slotOf(fd.Number()), c, fd.Enum()
		} else if name == eventDate {
			fd := md.Fields().ByName(eventTime)
			if fd == nil || fd.Message() == nil || fd.Message().FullName() != "google.protobuf.Timestamp" {
				return nil, fmt.Errorf("delta: partition column %s needs an %s timestamp", eventDate, eventTime)
			}
			pc.field, pc.slot, pc.date, pc.conv = fd, l.top.slotOf(fd.Number()), true, cTimestamp
		} else {
			return nil, &worker.WaitError{Reason: fmt.Sprintf("partition column %s has no field in the record's schema", name)}
		}
		l.partitions = append(l.partitions, pc)
	}
	return l, nil
}

// missingFields reports the first field of md (recursively in records) the table lacks.
func missingFields(table typemap.StructType, md protoreflect.MessageDescriptor, path string) error {
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		p := strings.TrimPrefix(path+"."+string(fd.Name()), ".")
		var col *typemap.StructField
		for j := range table.Fields {
			if table.Fields[j].Name == string(fd.Name()) {
				col = &table.Fields[j]
			}
		}
		if col == nil {
			return &worker.WaitError{Reason: fmt.Sprintf("field %s is not a column of the table yet", p)}
		}
		t := col.Type
		if t.Array != nil {
			t = t.Array.ElementType
		}
		if t.Map != nil {
			t = t.Map.ValueType
			fd = fd.MapValue()
		}
		if t.Struct != nil && fd.Message() != nil {
			if err := missingFields(*t.Struct, fd.Message(), p); err != nil {
				return err
			}
		}
	}
	return nil
}

// build makes the node and Parquet node of one column. elem says fd's cardinality is handled
// by the caller (list elements, map keys and values).
func (l *layout) build(name string, t typemap.DataType, nullable bool, fd protoreflect.FieldDescriptor, elem bool, col *int, top bool) (*node, parquet.Node, error) {
	n := &node{name: name, optional: nullable, required: !nullable, field: fd, first: *col, stat: -1}
	wrap := func(pn parquet.Node) parquet.Node {
		if nullable {
			return parquet.Optional(pn)
		}
		return parquet.Required(pn)
	}
	mismatch := func(what string) error {
		return &worker.WaitError{Reason: fmt.Sprintf("column %s is %s in the table but %s in the record's schema", name, t, what)}
	}
	if fd == nil && !nullable {
		return nil, nil, &worker.WaitError{Reason: fmt.Sprintf("column %s is NOT NULL but the record's schema has no such field", name)}
	}
	switch {
	case t.Array != nil:
		if fd != nil && (!fd.IsList() || elem) {
			return nil, nil, mismatch("not a list")
		}
		n.kind = kList
		e, pe, err := l.build("element", t.Array.ElementType, t.Array.ContainsNull, fd, true, col, false)
		if err != nil {
			return nil, nil, err
		}
		n.elem, n.ncols = e, *col-n.first
		return n, wrap(parquet.List(pe)), nil
	case t.Map != nil:
		if fd != nil && (!fd.IsMap() || elem) {
			return nil, nil, mismatch("not a map")
		}
		n.kind = kMap
		var kf, vf protoreflect.FieldDescriptor
		if fd != nil {
			kf, vf = fd.MapKey(), fd.MapValue()
		}
		k, pk, err := l.build("key", t.Map.KeyType, false, kf, true, col, false)
		if err != nil {
			return nil, nil, err
		}
		v, pv, err := l.build("value", t.Map.ValueType, t.Map.ValueContainsNull, vf, true, col, false)
		if err != nil {
			return nil, nil, err
		}
		n.key, n.val, n.ncols = k, v, *col-n.first
		if k.slot, v.slot = 0, 1; fd != nil {
			n.msg = newMsgPlan(fd.Message())
		}
		return n, wrap(parquet.Map(pk, pv)), nil
	case t.Struct != nil:
		if fd != nil && (fd.Message() == nil || fd.IsMap() || fd.IsList() && !elem) {
			return nil, nil, mismatch("not a record")
		}
		n.kind = kStruct
		g := parquet.Group{}
		fields := slices.Clone(t.Struct.Fields)
		sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
		if fd != nil {
			n.msg = newMsgPlan(fd.Message())
		}
		for _, f := range fields {
			var sub protoreflect.FieldDescriptor
			if fd != nil {
				sub = fd.Message().Fields().ByName(protoreflect.Name(f.Name))
			}
			c, pc, err := l.build(f.Name, f.Type, f.Nullable, sub, false, col, false)
			if err != nil {
				return nil, nil, err
			}
			if sub != nil {
				c.slot = n.msg.slotOf(sub.Number())
			}
			n.children = append(n.children, c)
			g[f.Name] = pc
		}
		n.ncols = *col - n.first
		return n, wrap(g), nil
	}
	// A primitive column.
	n.kind, n.col, n.ncols = kLeaf, *col, 1
	*col++
	pn, err := parquetLeaf(t.Primitive, l.codec)
	if err != nil {
		return nil, nil, err
	}
	if fd != nil {
		if fd.Cardinality() == protoreflect.Repeated && !elem {
			return nil, nil, mismatch("repeated")
		}
		c, wrapper, prim, err := convOf(fd)
		if err != nil {
			return nil, nil, err
		}
		if prim != t.Primitive {
			return nil, nil, mismatch(prim)
		}
		n.conv, n.wrapper, n.implicit = c, wrapper, !fd.HasPresence()
		if wrapper {
			n.msg = newMsgPlan(fd.Message())
		}
	}
	if top {
		n.fast = fastConv(n)
		n.pkind = pn.Type().Kind()
		n.stat = len(l.stats)
		l.stats = append(l.stats, n)
	}
	return n, wrap(pn), nil
}

func parquetLeaf(prim string, codec *zstd.Codec) (parquet.Node, error) {
	var n parquet.Node
	switch prim {
	case typemap.DeltaString:
		n = parquet.String()
	case typemap.DeltaLong:
		n = parquet.Int(64)
	case typemap.DeltaInteger:
		n = parquet.Int(32)
	case typemap.DeltaFloat:
		n = parquet.Leaf(parquet.FloatType)
	case typemap.DeltaDouble:
		n = parquet.Leaf(parquet.DoubleType)
	case typemap.DeltaBoolean:
		n = parquet.Leaf(parquet.BooleanType)
	case typemap.DeltaBinary:
		n = parquet.Leaf(parquet.ByteArrayType)
	case typemap.DeltaDate:
		n = parquet.Date()
	case typemap.DeltaTimestamp:
		n = parquet.Timestamp(parquet.Microsecond)
	case typemap.DeltaUint64:
		n = parquet.Decimal(0, 20, parquet.FixedLenByteArrayType(decimalBytes))
	default:
		return nil, fmt.Errorf("delta: column type %s is not written by evctl", prim)
	}
	return parquet.Compressed(n, codec), nil
}

// decimalBytes holds any uint64 as a signed big-endian decimal(20,0).
const decimalBytes = 9

// convOf is how fd's values convert and the Delta primitive they land in (typemap's mapping).
func convOf(fd protoreflect.FieldDescriptor) (c conv, wrapper bool, prim string, err error) {
	if md := fd.Message(); md != nil {
		switch md.FullName() {
		case "google.protobuf.Timestamp":
			return cTimestamp, false, typemap.DeltaTimestamp, nil
		case "google.type.Date":
			return cDate, false, typemap.DeltaDate, nil
		case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any":
			return cJSON, false, typemap.DeltaString, nil
		case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
			"google.protobuf.Int32Value", "google.protobuf.UInt32Value", "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
			c, _, prim, err := convOf(md.Fields().ByNumber(1))
			return c, true, prim, err
		}
		return 0, false, "struct", nil
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return cBool, false, typemap.DeltaBoolean, nil
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		return cInt32, false, typemap.DeltaInteger, nil
	case protoreflect.Sint32Kind:
		return cSint32, false, typemap.DeltaInteger, nil
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return cInt64, false, typemap.DeltaLong, nil
	case protoreflect.Sint64Kind:
		return cSint64, false, typemap.DeltaLong, nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return cUint64, false, typemap.DeltaUint64, nil
	case protoreflect.FloatKind:
		return cFloat, false, typemap.DeltaFloat, nil
	case protoreflect.DoubleKind:
		return cDouble, false, typemap.DeltaDouble, nil
	case protoreflect.StringKind:
		return cString, false, typemap.DeltaString, nil
	case protoreflect.EnumKind:
		return cEnum, false, typemap.DeltaString, nil
	case protoreflect.BytesKind:
		return cBytes, false, typemap.DeltaBinary, nil
	}
	return 0, false, "", fmt.Errorf("delta: field %s: kind %s is not supported", fd.FullName(), fd.Kind())
}
