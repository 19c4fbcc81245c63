package convert

import (
	"encoding/base64"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// decoder is the per-call state of Append, pooled by its Plan.
type decoder struct {
	p         *Plan
	in        []byte
	pos       int
	out       []byte
	scratch   []byte   // decoded strings with escapes
	raw       []byte   // base64-decoded bytes
	bits      []uint64 // seen/has bitsets of the messages being decoded, a stack
	keys      []byte   // map keys seen, a stack
	keyEnds   []int
	maxDepth  int
	maxString int
	drop      bool
}

// Append converts one JSON object (src) to the wire bytes of the plan's message and appends
// them to dst. On failure it returns dst unchanged in length and an *Error naming the field.
// It does not retain src or dst.
func (p *Plan) Append(dst, src []byte) ([]byte, error) {
	if p.fallback {
		return p.appendSlow(dst, src)
	}
	d := p.pool.Get().(*decoder)
	d.p, d.in, d.pos, d.out = p, src, 0, dst
	d.maxDepth, d.maxString, d.drop = p.opts.MaxDepth, p.opts.MaxString, p.opts.DropUnknown
	start := len(dst)
	err := d.document()
	out := d.out
	d.in, d.out, d.p = nil, nil, nil
	d.bits, d.keys, d.keyEnds = d.bits[:0], d.keys[:0], d.keyEnds[:0]
	p.pool.Put(d)
	if err != nil {
		return out[:start], err.finish()
	}
	return out, nil
}

func (d *decoder) document() *Error {
	if d.peek() != '{' {
		return d.syntax("an event is a JSON object")
	}
	if err := d.message(d.p.root, 1); err != nil {
		return err
	}
	if d.ws(); d.pos != len(d.in) {
		return d.syntax("unexpected data after the event")
	}
	return nil
}

// want reports a value of the wrong JSON type, or the end of the input.
func (d *decoder) want(what string) *Error {
	if d.pos >= len(d.in) {
		return d.syntax("")
	}
	return errorf("want " + what)
}

func setBit(b []uint64, i int)      { b[i>>6] |= 1 << (uint(i) & 63) }
func hasBit(b []uint64, i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }

// message decodes a JSON object (at '{') into mp's fields, appended to d.out.
func (d *decoder) message(mp *msgPlan, depth int) *Error {
	if depth > d.maxDepth {
		return limitErr("nesting deeper than " + strconv.Itoa(d.maxDepth))
	}
	d.pos++ // '{'
	base := len(d.bits)
	for i := 0; i < 2*mp.words; i++ {
		d.bits = append(d.bits, 0)
	}
	var oneofs uint64
	next := 0
	if d.peek() == '}' {
		d.pos++
	} else {
		for {
			d.ws()
			key, err := d.str()
			if err != nil {
				return err
			}
			if d.peek() != ':' {
				return d.syntax("want ':' after a field name")
			}
			d.pos++
			idx := -1
			if next < len(mp.fields) && mp.fields[next].hint && (string(key) == mp.fields[next].jsonName || string(key) == mp.fields[next].name) {
				idx = next
			} else if i, ok := mp.byName[string(key)]; ok {
				idx = int(i)
			}
			if idx < 0 {
				if !d.drop {
					return errorf("unknown field").in(string(key))
				}
				if err := d.skip(depth + 1); err != nil {
					return err
				}
			} else {
				f := &mp.fields[idx]
				seen := d.bits[base : base+mp.words]
				if hasBit(seen, idx) {
					return errorf("duplicate field").in(f.name)
				}
				setBit(seen, idx)
				d.ws()
				if !d.literal("null") {
					if f.oneof >= 0 && !f.list && !f.isMap {
						if oneofs&(1<<uint(f.oneof)) != 0 {
							return errorf("another field of its oneof is already set").in(f.name)
						}
						oneofs |= 1 << uint(f.oneof)
					}
					has, err := d.field(f, depth)
					if err != nil {
						return err.in(f.name)
					}
					if has {
						setBit(d.bits[base+mp.words:base+2*mp.words], idx)
					}
				}
				next = idx + 1
			}
			switch d.peek() {
			case ',':
				d.pos++
				continue
			case '}':
				d.pos++
			default:
				return d.syntax("want ',' or '}'")
			}
			break
		}
	}
	has := d.bits[base+mp.words : base+2*mp.words]
	if depth == 1 && mp == d.p.root {
		if err := d.platform(has); err != nil {
			return err
		}
	}
	for _, ri := range mp.required {
		if !hasBit(has, int(ri)) {
			return errorf("required field is missing").in(mp.fields[ri].name)
		}
	}
	d.bits = d.bits[:base]
	return nil
}

// openLen reserves one byte for a length and returns where the content starts.
func (d *decoder) openLen() int {
	d.out = append(d.out, 0)
	return len(d.out)
}

// closeLen writes the content length at start-1, moving the content when it needs more bytes.
func (d *decoder) closeLen(start int) {
	n := len(d.out) - start
	if n < 0x80 {
		d.out[start-1] = byte(n)
		return
	}
	sz := protowire.SizeVarint(uint64(n))
	d.out = append(d.out, make([]byte, sz-1)...)
	copy(d.out[start-1+sz:], d.out[start:start+n])
	protowire.AppendVarint(d.out[:start-1], uint64(n))
}

// field decodes a non-null value of f. has reports whether the field counts as set.
func (d *decoder) field(f *fieldPlan, depth int) (bool, *Error) {
	switch {
	case f.isMap:
		return false, d.mapValue(f, depth)
	case f.list:
		return false, d.list(f, depth)
	}
	return d.singular(f, f.tag, depth)
}

// singular writes one value of f with the given tag; zero values of fields without presence
// are left out, as proto.Marshal does.
func (d *decoder) singular(f *fieldPlan, tag uint64, depth int) (bool, *Error) {
	switch f.kind {
	case protoreflect.MessageKind:
		mark := len(d.out)
		d.out = protowire.AppendVarint(d.out, f.bytesTag)
		start := d.openLen()
		if err := d.messageValue(f.msg, depth); err != nil {
			d.out = d.out[:mark]
			return false, err
		}
		d.closeLen(start)
		return true, nil
	case protoreflect.StringKind:
		s, err := d.stringValue()
		if err != nil {
			return false, err
		}
		if len(s) == 0 && !f.presence {
			return false, nil
		}
		d.out = protowire.AppendVarint(d.out, tag)
		d.out = protowire.AppendBytes(d.out, s)
		return true, nil
	case protoreflect.BytesKind:
		b, err := d.bytesValue()
		if err != nil {
			return false, err
		}
		if len(b) == 0 && !f.presence {
			return false, nil
		}
		d.out = protowire.AppendVarint(d.out, tag)
		d.out = protowire.AppendBytes(d.out, b)
		return true, nil
	}
	v, ok, err := d.scalar(f)
	if err != nil || !ok {
		return false, err
	}
	if v == 0 && !f.presence {
		return false, nil
	}
	d.out = protowire.AppendVarint(d.out, tag)
	d.appendScalar(f.kind, v)
	return true, nil
}

func (d *decoder) appendScalar(k protoreflect.Kind, v uint64) {
	switch wireType(k) {
	case protowire.Fixed32Type:
		d.out = protowire.AppendFixed32(d.out, uint32(v))
	case protowire.Fixed64Type:
		d.out = protowire.AppendFixed64(d.out, v)
	default:
		d.out = protowire.AppendVarint(d.out, v)
	}
}

// messageValue writes the content of a message value: an object, or the JSON form of a
// well-known type.
func (d *decoder) messageValue(mp *msgPlan, depth int) *Error {
	switch mp.wkt {
	case wktTimestamp, wktDuration:
		s, err := d.stringValue()
		if err != nil {
			return err
		}
		var secs int64
		var nanos int32
		var ok bool
		if mp.wkt == wktTimestamp {
			secs, nanos, ok = parseTimestamp(s)
		} else {
			secs, nanos, ok = parseDuration(s)
		}
		if !ok {
			return errorf("invalid " + mp.name + " value " + strconv.Quote(string(s)))
		}
		if secs != 0 {
			d.out = protowire.AppendVarint(d.out, uint64(protowire.EncodeTag(1, protowire.VarintType)))
			d.out = protowire.AppendVarint(d.out, uint64(secs))
		}
		if nanos != 0 {
			d.out = protowire.AppendVarint(d.out, uint64(protowire.EncodeTag(2, protowire.VarintType)))
			d.out = protowire.AppendVarint(d.out, uint64(int64(nanos)))
		}
		return nil
	case wktWrapper:
		f := &mp.fields[0]
		_, err := d.singular(f, f.tag, depth)
		return err
	}
	if d.peek() != '{' {
		return errorf("want a JSON object for " + mp.name)
	}
	return d.message(mp, depth+1)
}

func (d *decoder) stringValue() ([]byte, *Error) {
	if d.peek() != '"' {
		return nil, d.want("a string")
	}
	return d.str()
}

var base64Encodings = [4]*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}

// bytesValue decodes base64 as protojson does: standard or URL alphabet, padded or not.
func (d *decoder) bytesValue() ([]byte, *Error) {
	s, err := d.stringValue()
	if err != nil {
		return nil, err
	}
	enc := 0
	for _, c := range s {
		if c == '-' || c == '_' {
			enc = 1
			break
		}
	}
	if len(s)%4 != 0 {
		enc += 2
	}
	e := base64Encodings[enc]
	if n := e.DecodedLen(len(s)); cap(d.raw) < n {
		d.raw = make([]byte, n)
	}
	n, derr := e.Decode(d.raw[:cap(d.raw)], s)
	if derr != nil {
		return nil, errorf("invalid base64")
	}
	return d.raw[:n], nil
}

// scalar decodes a number, bool or enum as its wire value (zigzag applied, floats as bits).
// ok is false for an unknown enum name that is being dropped.
func (d *decoder) scalar(f *fieldPlan) (v uint64, ok bool, err *Error) {
	c := d.peek()
	var raw []byte
	quoted := false
	switch {
	case c == '"':
		s, err := d.str()
		if err != nil {
			return 0, false, err
		}
		raw, quoted = s, true
	case c == '-' || ('0' <= c && c <= '9'):
		n, okn := d.number()
		if !okn {
			return 0, false, d.syntax("invalid number")
		}
		raw = n
	case c == 't' || c == 'f':
		if f.kind == protoreflect.BoolKind {
			if d.literal("true") {
				return 1, true, nil
			}
			if d.literal("false") {
				return 0, true, nil
			}
		}
		return 0, false, d.syntax("invalid value")
	default:
		return 0, false, d.want("a " + f.kind.String())
	}
	bad := func() (uint64, bool, *Error) {
		return 0, false, errorf("invalid value for " + f.kind.String() + ": " + strconv.Quote(string(raw)))
	}
	switch f.kind {
	case protoreflect.EnumKind:
		if quoted {
			if n, found := f.enum[string(raw)]; found {
				return uint64(int64(n)), true, nil
			}
			if d.drop {
				return 0, false, nil
			}
			return bad()
		}
		n, ok := parseInt(raw, 32)
		if !ok {
			return bad()
		}
		return uint64(n), true, nil
	case protoreflect.BoolKind:
		return bad()
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		bits := 64
		if f.kind == protoreflect.FloatKind {
			bits = 32
		}
		var fv float64
		switch {
		case !quoted:
			x, ok := parseFloat(raw, bits)
			if !ok {
				return bad()
			}
			fv = x
		case string(raw) == "NaN":
			fv = math.NaN()
		case string(raw) == "Infinity":
			fv = math.Inf(1)
		case string(raw) == "-Infinity":
			fv = math.Inf(-1)
		default:
			x, ok := parseFloat(raw, bits)
			if !ok || !quotedNumber(raw) {
				return bad()
			}
			fv = x
		}
		if bits == 32 {
			return uint64(math.Float32bits(float32(fv))), true, nil
		}
		return math.Float64bits(fv), true, nil
	}
	if quoted && !quotedNumber(raw) {
		return bad()
	}
	switch f.kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		bits := 64
		if f.kind == protoreflect.Int32Kind || f.kind == protoreflect.Sint32Kind || f.kind == protoreflect.Sfixed32Kind {
			bits = 32
		}
		n, ok := parseInt(raw, bits)
		if !ok {
			return bad()
		}
		switch f.kind {
		case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
			return protowire.EncodeZigZag(n), true, nil
		case protoreflect.Sfixed32Kind:
			return uint64(uint32(int32(n))), true, nil
		}
		return uint64(n), true, nil
	default: // unsigned kinds
		bits := 64
		if f.kind == protoreflect.Uint32Kind || f.kind == protoreflect.Fixed32Kind {
			bits = 32
		}
		n, ok := parseUint(raw, bits)
		if !ok {
			return bad()
		}
		return n, true, nil
	}
}
