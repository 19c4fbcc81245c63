package bigquery

import (
	"fmt"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

// Batch mode stages rows as Parquet files for load jobs. The file schema follows the table's:
// REPEATED columns are plain repeated fields (BigQuery loads them as arrays without list
// inference; the emulator cannot read the three-level LIST form), RECORDs are groups, TIMESTAMP
// is INT64 timestamp(micros), DATE is INT32 date, NUMERIC/BIGNUMERIC and JSON are strings
// (decimal and JSON text). Snappy: every BigQuery location reads it.

// parquetSchema is the file schema of a table.
func parquetSchema(fields []typemap.BQField) (*parquet.Schema, error) {
	g, err := parquetGroup(fields)
	if err != nil {
		return nil, err
	}
	return parquet.NewSchema("evctl", g), nil
}

func parquetGroup(fields []typemap.BQField) (parquet.Group, error) {
	g := parquet.Group{}
	for _, f := range fields {
		var n parquet.Node
		switch t := typemap.CanonicalBQType(f.Type); t {
		case typemap.BQString, typemap.BQNumeric, "BIGNUMERIC", "JSON":
			n = parquet.String()
		case typemap.BQBytes:
			n = parquet.Leaf(parquet.ByteArrayType)
		case typemap.BQInteger:
			n = parquet.Int(64)
		case typemap.BQFloat:
			n = parquet.Leaf(parquet.DoubleType)
		case typemap.BQBoolean:
			n = parquet.Leaf(parquet.BooleanType)
		case typemap.BQTimestamp:
			n = parquet.Timestamp(parquet.Microsecond)
		case typemap.BQDate:
			n = parquet.Date()
		case typemap.BQRecord:
			sub, err := parquetGroup(f.Fields)
			if err != nil {
				return nil, err
			}
			n = sub
		default:
			return nil, fmt.Errorf("column %s: type %s is not written by evctl", f.Name, f.Type)
		}
		if _, leaf := n.(parquet.Group); !leaf {
			n = parquet.Compressed(n, &snappy.Codec{})
		}
		switch f.Mode {
		case typemap.BQRepeated:
			n = parquet.Repeated(n)
		case typemap.BQRequired:
			n = parquet.Required(n)
		default:
			n = parquet.Optional(n)
		}
		g[f.Name] = n
	}
	return g, nil
}

// rowValue is a row message (rowType's) as the Go value parquet-go deconstructs: a map per
// record, a slice per repeated field, nil for NULL.
func rowValue(m protoreflect.Message) map[string]any {
	out := map[string]any{}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.IsList() {
			l := m.Get(fd).List()
			vs := make([]any, 0, l.Len())
			for j := 0; j < l.Len(); j++ {
				vs = append(vs, goValue(fd, l.Get(j)))
			}
			out[string(fd.Name())] = vs
			continue
		}
		if !m.Has(fd) {
			out[string(fd.Name())] = nil
			continue
		}
		out[string(fd.Name())] = goValue(fd, m.Get(fd))
	}
	return out
}

func goValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return rowValue(v.Message())
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return v.Bytes()
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return int32(v.Int())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float()
	}
	return v.Int()
}
