package gateway

import (
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// appendKey appends the record key built from the top-level key fields of an encoded message:
// each field's value as text (strings and bytes as they are), joined with "|". A missing field
// is empty.
func appendKey(key, wire []byte, fields []wireField) []byte {
	for i, fd := range fields {
		if i > 0 {
			key = append(key, '|')
		}
		key = appendField(key, wire, fd)
	}
	return key
}

// appendField appends the text of the last occurrence of fd's value in wire.
func appendField(dst, wire []byte, fd wireField) []byte {
	var last []byte
	var lastV uint64
	found := false
	for len(wire) > 0 {
		num, typ, n := protowire.ConsumeTag(wire)
		if n < 0 {
			break
		}
		wire = wire[n:]
		var m int
		switch typ {
		case protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(wire)
			if num == fd.num {
				lastV, found = v, true
			}
		case protowire.Fixed32Type:
			var v uint32
			v, m = protowire.ConsumeFixed32(wire)
			if num == fd.num {
				lastV, found = uint64(v), true
			}
		case protowire.Fixed64Type:
			lastV2, k := protowire.ConsumeFixed64(wire)
			m = k
			if num == fd.num {
				lastV, found = lastV2, true
			}
		case protowire.BytesType:
			var v []byte
			v, m = protowire.ConsumeBytes(wire)
			if num == fd.num {
				last, found = v, true
			}
		default:
			m = protowire.ConsumeFieldValue(num, typ, wire)
		}
		if m < 0 {
			break
		}
		wire = wire[m:]
	}
	if !found {
		return dst
	}
	switch fd.kind {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return append(dst, last...)
	case protoreflect.BoolKind:
		return strconv.AppendBool(dst, lastV != 0)
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.EnumKind:
		return strconv.AppendInt(dst, int64(lastV), 10)
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return strconv.AppendInt(dst, protowire.DecodeZigZag(lastV), 10)
	case protoreflect.Sfixed32Kind:
		return strconv.AppendInt(dst, int64(int32(uint32(lastV))), 10)
	case protoreflect.Sfixed64Kind:
		return strconv.AppendInt(dst, int64(lastV), 10)
	case protoreflect.FloatKind:
		return strconv.AppendFloat(dst, float64(math.Float32frombits(uint32(lastV))), 'g', -1, 32)
	case protoreflect.DoubleKind:
		return strconv.AppendFloat(dst, math.Float64frombits(lastV), 'g', -1, 64)
	}
	return strconv.AppendUint(dst, lastV, 10)
}
