package delta

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// msgPlan decodes one message's wire bytes into slots, one per field of its descriptor, without
// building a proto message: numbers are kept raw, strings, bytes and sub-messages as sub-slices
// of the input (no copies).
type msgPlan struct {
	md     protoreflect.MessageDescriptor
	fields []protoreflect.FieldDescriptor // by slot
	wire   []wireInfo                     // by slot: what decode needs, read once from fields
	small  []int16                        // field number → slot+1, for numbers < len(small)
	big    map[protowire.Number]int
}

// wireInfo is what decode asks of a field for every occurrence, kept out of the descriptor's
// interface methods.
type wireInfo struct {
	want     protowire.Type // the wire type of one unpacked value
	repeated bool           // lists and maps
	message  bool
}

// slot holds the occurrences of one field in one message.
type slot struct {
	n    int      // occurrences (repeated: elements)
	vals []uint64 // varint and fixed values
	bufs [][]byte // length-delimited values
}

func newMsgPlan(md protoreflect.MessageDescriptor) *msgPlan {
	fs := md.Fields()
	p := &msgPlan{md: md, fields: make([]protoreflect.FieldDescriptor, fs.Len()), wire: make([]wireInfo, fs.Len()), big: map[protowire.Number]int{}}
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		p.fields[i] = fd
		p.wire[i] = wireInfo{want: wireTypeOf(fd), repeated: fd.Cardinality() == protoreflect.Repeated, message: fd.Message() != nil}
		if fd.Number() < 2048 {
			for int(fd.Number()) >= len(p.small) {
				p.small = append(p.small, 0)
			}
			p.small[fd.Number()] = int16(i + 1)
		} else {
			p.big[fd.Number()] = i
		}
	}
	return p
}

func (p *msgPlan) slotOf(num protowire.Number) int {
	if int(num) < len(p.small) {
		return int(p.small[num]) - 1
	}
	if i, ok := p.big[num]; ok {
		return i
	}
	return -1
}

func resetSlots(s []slot) {
	for i := range s {
		s[i].n, s[i].vals, s[i].bufs = 0, s[i].vals[:0], s[i].bufs[:0]
	}
}

// wireTypeOf is the wire type a non-packed value of fd has.
func wireTypeOf(fd protoreflect.FieldDescriptor) protowire.Type {
	switch fd.Kind() {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Int64Kind,
		protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.BytesType
}

// decode adds the fields of b to s (merging as proto does: a later scalar wins, repeated values
// and message chunks accumulate). The error names the field.
func (p *msgPlan) decode(b []byte, s []slot) error {
	for len(b) > 0 {
		var num protowire.Number
		var typ protowire.Type
		if c := b[0]; c >= 1<<3 && c < 0x80 {
			// A one-byte tag (fields 1-15, most fields of most events): ConsumeTag's checks
			// cannot fail on it.
			num, typ, b = protowire.Number(c>>3), protowire.Type(c&7), b[1:]
		} else {
			var n int
			num, typ, n = protowire.ConsumeTag(b)
			if n < 0 {
				return fmt.Errorf("%s: malformed tag: %v", p.md.FullName(), protowire.ParseError(n))
			}
			b = b[n:]
		}
		i := p.slotOf(num)
		if i < 0 {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return fmt.Errorf("%s: field %d: %v", p.md.FullName(), num, protowire.ParseError(m))
			}
			b = b[m:]
			continue
		}
		fd, info := p.fields[i], p.wire[i]
		sl := &s[i]
		want, repeated := info.want, info.repeated
		switch {
		case typ == want && want == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return fieldErr(fd, protowire.ParseError(m))
			}
			b = b[m:]
			sl.put(v, repeated)
		case typ == want && want == protowire.Fixed32Type:
			v, m := protowire.ConsumeFixed32(b)
			if m < 0 {
				return fieldErr(fd, protowire.ParseError(m))
			}
			b = b[m:]
			sl.put(uint64(v), repeated)
		case typ == want && want == protowire.Fixed64Type:
			v, m := protowire.ConsumeFixed64(b)
			if m < 0 {
				return fieldErr(fd, protowire.ParseError(m))
			}
			b = b[m:]
			sl.put(v, repeated)
		case typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return fieldErr(fd, protowire.ParseError(m))
			}
			b = b[m:]
			if want == protowire.BytesType {
				switch {
				case repeated:
					sl.bufs = append(sl.bufs, v)
					sl.n++
				case info.message:
					sl.bufs = append(sl.bufs, v) // chunks of one message, merged in order
					sl.n = 1
				default:
					sl.bufs = append(sl.bufs[:0], v)
					sl.n = 1
				}
				continue
			}
			if !repeated {
				return fieldErr(fd, fmt.Errorf("length-delimited value for a %s", fd.Kind()))
			}
			if err := unpack(v, want, sl); err != nil {
				return fieldErr(fd, err)
			}
		default:
			return fieldErr(fd, fmt.Errorf("wire type %d for a %s", typ, fd.Kind()))
		}
	}
	return nil
}

func (sl *slot) put(v uint64, repeated bool) {
	if repeated {
		sl.vals = append(sl.vals, v)
		sl.n++
		return
	}
	sl.vals = append(sl.vals[:0], v)
	sl.n = 1
}

func unpack(b []byte, typ protowire.Type, sl *slot) error {
	for len(b) > 0 {
		var v uint64
		var m int
		switch typ {
		case protowire.VarintType:
			v, m = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, m = protowire.ConsumeFixed32(b)
			v = uint64(x)
		default:
			v, m = protowire.ConsumeFixed64(b)
		}
		if m < 0 {
			return protowire.ParseError(m)
		}
		b = b[m:]
		sl.put(v, true)
	}
	return nil
}

func fieldErr(fd protoreflect.FieldDescriptor, err error) error {
	return fmt.Errorf("field %s: %v", fd.FullName(), err)
}
