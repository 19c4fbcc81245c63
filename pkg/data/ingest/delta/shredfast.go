package delta

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Most columns of most events are present top-level scalars, strings and timestamps. The generic
// path (write → leaf → value → scalar, each returning a Value, a flag and an error) costs more
// in calls and branches than the conversion itself, about a fifth of the worker's goroutine
// per record, so those leaves are converted inline here. Absent values (defaults, nulls,
// required fields) and everything nested still take the generic path; FuzzShredFast checks that
// both paths give the same values and errors.

// fastConv reports whether the top-level leaf n is converted inline when present.
func fastConv(n *node) bool {
	if n.field == nil || n.wrapper || n.kind != kLeaf {
		return false
	}
	switch n.conv {
	case cString, cBytes, cBool, cInt32, cInt64, cSint64, cDouble, cFloat, cTimestamp:
		return true
	}
	return false
}

// fastLeaf appends the value of the present top-level leaf n (sl.n > 0). Its errors are the
// generic path's.
func (s *shredder) fastLeaf(n *node, sl *slot) error {
	var v parquet.Value
	switch n.conv {
	case cString, cBytes:
		if len(sl.bufs) == 0 {
			return s.leaf(n, sl, -1, 0, 0)
		}
		b := sl.bufs[len(sl.bufs)-1]
		if n.conv == cString && !utf8.Valid(b) {
			return fmt.Errorf("field %s: string is not valid UTF-8", s.where(n))
		}
		v = parquet.ByteArrayValue(b)
	case cTimestamp:
		us, err := timestampMicros(sl.bufs)
		if err != nil {
			return fmt.Errorf("field %s: %w", s.where(n), err)
		}
		v = parquet.Int64Value(us)
	default:
		if len(sl.vals) == 0 {
			return s.leaf(n, sl, -1, 0, 0)
		}
		raw := sl.vals[len(sl.vals)-1]
		switch n.conv {
		case cBool:
			v = parquet.BooleanValue(raw != 0)
		case cInt32:
			v = parquet.Int32Value(int32(raw))
		case cInt64:
			if k := n.field.Kind(); k == protoreflect.Uint32Kind || k == protoreflect.Fixed32Kind {
				raw = uint64(uint32(raw))
			}
			v = parquet.Int64Value(int64(raw))
		case cSint64:
			v = parquet.Int64Value(protowire.DecodeZigZag(raw))
		case cDouble:
			v = parquet.DoubleValue(math.Float64frombits(raw))
		case cFloat:
			v = parquet.FloatValue(math.Float32frombits(uint32(raw)))
		}
	}
	def := 0
	if n.optional {
		def = 1
	}
	s.cols[n.col] = append(s.cols[n.col], v.Level(0, def, n.col))
	return nil
}
