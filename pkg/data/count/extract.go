package count

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/contract"
)

// extractor reads the counters' fields (key, where, sum) straight from a record's wire bytes:
// one pass over the top-level fields, no message built, so counting stays cheap per event.
type extractor struct {
	fields   []protoreflect.FieldDescriptor // the fields read, by slot
	wire     []protowire.Type               // each slot's wire type; others are unknown fields
	slotOf   map[protowire.Number]int
	counters []counterFields
}

// counterFields are one counter's slots.
type counterFields struct {
	index int // into the handler's specs
	key   int
	where []whereSlot
	sum   int // -1: count events
}

type whereSlot struct {
	slot int
	want string
}

// raw is one field's last value as read (proto: the last occurrence of a scalar wins).
type raw struct {
	set   bool
	num   uint64
	bytes []byte
}

// newExtractor resolves counters against the message a record was written with. A counter
// whose fields the message lacks (an older schema) is an error: lint guarantees them in the
// current contract.
func newExtractor(md protoreflect.MessageDescriptor, counters []contract.Counter, index []int) (*extractor, error) {
	x := &extractor{slotOf: map[protowire.Number]int{}}
	slot := func(name string) (int, error) {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.IsList() || fd.IsMap() {
			return 0, fmt.Errorf("%s has no single-valued top-level field %q", md.FullName(), name)
		}
		if s, ok := x.slotOf[fd.Number()]; ok {
			return s, nil
		}
		x.fields = append(x.fields, fd)
		x.wire = append(x.wire, wireType(fd.Kind()))
		x.slotOf[fd.Number()] = len(x.fields) - 1
		return len(x.fields) - 1, nil
	}
	for i, c := range counters {
		cf := counterFields{index: index[i], sum: -1}
		var err error
		if cf.key, err = slot(c.Key); err != nil {
			return nil, fmt.Errorf("counter %s: key: %w", c.Name, err)
		}
		for name, want := range c.Where {
			s, err := slot(name)
			if err != nil {
				return nil, fmt.Errorf("counter %s: where: %w", c.Name, err)
			}
			cf.where = append(cf.where, whereSlot{slot: s, want: want})
		}
		if !c.Counts() {
			if cf.sum, err = slot(c.Sum); err != nil {
				return nil, fmt.Errorf("counter %s: sum: %w", c.Name, err)
			}
		}
		x.counters = append(x.counters, cf)
	}
	return x, nil
}

// read scans b once and fills vals (len(x.fields)).
func (x *extractor) read(b []byte, vals []raw) error {
	for i := range vals {
		vals[i] = raw{}
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		s, want := x.slotOf[num]
		// A value of another wire type is an unknown field to protobuf, not this field.
		want = want && x.wire[s] == typ
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if want {
				vals[s] = raw{set: true, num: v}
			}
			b = b[n:]
		case protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if want {
				vals[s] = raw{set: true, num: uint64(v)}
			}
			b = b[n:]
		case protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if want {
				vals[s] = raw{set: true, num: v}
			}
			b = b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if want {
				vals[s] = raw{set: true, bytes: v}
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return nil
}

// wireType is how a singular field of kind k is encoded.
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	}
	return protowire.VarintType
}

// text renders a field's value as counters name it: strings as they are, integers in decimal,
// enums by value name, bools as true/false. An unset field is its zero value.
func text(fd protoreflect.FieldDescriptor, v raw) string {
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return string(v.bytes)
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.num != 0)
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(protoreflect.EnumNumber(int32(v.num))); ev != nil {
			return string(ev.Name())
		}
		return strconv.FormatInt(int64(int32(v.num)), 10)
	}
	return strconv.FormatInt(integer(fd, v), 10)
}

// isBytes reports whether a field's text is its bytes as they are (string and bytes fields).
func isBytes(fd protoreflect.FieldDescriptor) bool {
	k := fd.Kind()
	return k == protoreflect.StringKind || k == protoreflect.BytesKind
}

// integer decodes an integer field's wire value.
func integer(fd protoreflect.FieldDescriptor, v raw) int64 {
	switch fd.Kind() {
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.DecodeZigZag(v.num)
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		return int64(int32(v.num))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return int64(uint32(v.num))
	}
	return int64(v.num)
}

// hit is one counter's contribution of a record. A string or bytes key stays the record's bytes
// (keyB, isBytes), so adding to a window already open allocates nothing; Key makes it a string.
type hit struct {
	counter int
	key     string
	keyB    []byte
	isBytes bool
	delta   int64
}

// Key is the hit's key as a string.
func (h hit) Key() string {
	if h.isBytes {
		return string(h.keyB)
	}
	return h.key
}

// hits returns what a record adds to each counter (filtered by where).
func (x *extractor) hits(b []byte, vals []raw, out []hit) ([]hit, error) {
	if err := x.read(b, vals); err != nil {
		return out, err
	}
next:
	for _, c := range x.counters {
		for _, w := range c.where {
			if isBytes(x.fields[w.slot]) {
				if string(vals[w.slot].bytes) != w.want { // compared without a copy
					continue next
				}
			} else if text(x.fields[w.slot], vals[w.slot]) != w.want {
				continue next
			}
		}
		delta := int64(1)
		if c.sum >= 0 {
			delta = integer(x.fields[c.sum], vals[c.sum])
			if delta == 0 {
				continue
			}
		}
		if isBytes(x.fields[c.key]) {
			out = append(out, hit{counter: c.index, keyB: vals[c.key].bytes, isBytes: true, delta: delta})
			continue
		}
		out = append(out, hit{counter: c.index, key: text(x.fields[c.key], vals[c.key]), delta: delta})
	}
	return out, nil
}
