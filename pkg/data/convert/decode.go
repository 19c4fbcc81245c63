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

// Field bitsets: the first 64 fields of a message live in a local word (w0); the rest, for
// messages with more fields, in d.bits from off, one word per further 64 fields. d.bits is a
// stack shared by nested messages and may move as it grows, so it is indexed, never kept.

// testSet sets bit i and reports whether it was set before.
func (d *decoder) testSet(w0 *uint64, off, i int) bool {
	if i < 64 {
		b := uint64(1) << uint(i)
		old := *w0&b != 0
		*w0 |= b
		return old
	}
	w := &d.bits[off+i>>6-1]
	b := uint64(1) << (uint(i) & 63)
	old := *w&b != 0
	*w |= b
	return old
}

// test reports whether bit i is set.
func (d *decoder) test(w0 uint64, off, i int) bool {
	if i < 64 {
		return w0&(1<<uint(i)) != 0
	}
	return d.bits[off+i>>6-1]&(1<<(uint(i)&63)) != 0
}

// message decodes a JSON object (at '{') into mp's fields, appended to d.out.
func (d *decoder) message(mp *msgPlan, depth int) *Error {
	if depth > d.maxDepth {
		return limitErr("nesting deeper than " + strconv.Itoa(d.maxDepth))
	}
	d.pos++ // '{'
	base := len(d.bits)
	extra := mp.words - 1
	for i := 0; i < 2*extra; i++ {
		d.bits = append(d.bits, 0)
	}
	seenOff, hasOff := base, base+extra
	var seen, has, oneofs uint64
	next := 0
	if d.peek() == '}' {
		d.pos++
	} else {
		for {
			d.ws()
			idx := -1
			// The fields usually come in declaration order: try the next one's name as it is
			// written in the input, quotes included, before decoding the key.
			if next < len(mp.fields) {
				f := &mp.fields[next]
				rest := d.in[d.pos:]
				// The closing quote at the right place is a cheap first test.
				if q := f.qjson; q != "" && len(rest) >= len(q) && rest[len(q)-1] == '"' && string(rest[:len(q)]) == q {
					idx, d.pos = next, d.pos+len(q)
				} else if q := f.qname; q != "" && len(rest) >= len(q) && rest[len(q)-1] == '"' && string(rest[:len(q)]) == q {
					idx, d.pos = next, d.pos+len(q)
				}
			}
			var key []byte
			if idx < 0 {
				k, err := d.str()
				if err != nil {
					return err
				}
				key = k
				if i, ok := mp.byName[string(key)]; ok {
					idx = int(i)
				}
			}
			if d.peek() != ':' {
				return d.syntax("want ':' after a field name")
			}
			d.pos++
			if idx < 0 {
				if !d.drop {
					return errorf("unknown field").in(cut(key))
				}
				if err := d.skip(depth + 1); err != nil {
					return err
				}
			} else {
				f := &mp.fields[idx]
				if d.testSet(&seen, seenOff, idx) {
					return errorf("duplicate field").in(f.name)
				}
				if d.peek() != 'n' || !d.literal("null") {
					if f.oneof >= 0 && !f.list && !f.isMap {
						if oneofs&(1<<uint(f.oneof)) != 0 {
							return errorf("another field of its oneof is already set").in(f.name)
						}
						oneofs |= 1 << uint(f.oneof)
					}
					var set bool
					var err *Error
					if f.plainString {
						set, err = d.stringField(f)
					} else {
						set, err = d.field(f, depth)
					}
					if err != nil {
						return err.in(f.name)
					}
					if set {
						d.testSet(&has, hasOff, idx)
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
	if depth == 1 && mp == d.p.root {
		if err := d.platform(&has, hasOff); err != nil {
			return err
		}
	}
	for _, ri := range mp.required {
		if !d.test(has, hasOff, int(ri)) {
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
	appendVarint(d.out[:start-1], uint64(n))
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
		d.out = appendVarint(d.out, f.bytesTag)
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
		d.out = appendVarint(d.out, tag)
		d.out = appendBytes(d.out, s)
		return true, nil
	case protoreflect.BytesKind:
		b, err := d.bytesValue()
		if err != nil {
			return false, err
		}
		if len(b) == 0 && !f.presence {
			return false, nil
		}
		d.out = appendVarint(d.out, tag)
		d.out = appendBytes(d.out, b)
		return true, nil
	}
	v, ok, err := d.scalar(f)
	if err != nil || !ok {
		return false, err
	}
	if v == 0 && !f.presence {
		return false, nil
	}
	d.out = appendVarint(d.out, tag)
	d.appendWire(f.wt, v)
	return true, nil
}

func (d *decoder) appendWire(wt protowire.Type, v uint64) {
	switch wt {
	case protowire.Fixed32Type:
		d.out = protowire.AppendFixed32(d.out, uint32(v))
	case protowire.Fixed64Type:
		d.out = protowire.AppendFixed64(d.out, v)
	default:
		d.out = appendVarint(d.out, v)
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
			return errorf("invalid " + mp.name + " value " + quoteCut(s))
		}
		if secs != 0 {
			d.out = appendVarint(d.out, uint64(protowire.EncodeTag(1, protowire.VarintType)))
			d.out = appendVarint(d.out, uint64(secs))
		}
		if nanos != 0 {
			d.out = appendVarint(d.out, uint64(protowire.EncodeTag(2, protowire.VarintType)))
			d.out = appendVarint(d.out, uint64(int64(nanos)))
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
	if c == '-' || ('0' <= c && c <= '9') {
		if f.ik != ikNone {
			if v, ok := d.fastInt(f.ik); ok {
				return v, true, nil
			}
		} else if f.kind == protoreflect.DoubleKind || f.kind == protoreflect.FloatKind {
			if v, ok := d.fastFloat(f.kind == protoreflect.FloatKind); ok {
				return v, true, nil
			}
		}
	}
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
		return 0, false, errorf("invalid value for " + f.kind.String() + ": " + quoteCut(raw))
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
		if f.closedEnum != nil && !f.closedEnum[int32(n)] {
			return 0, false, errorf("enum number " + cut(raw) + " is not one of the contract's values (an enum field takes unlisted numbers only with open: true)")
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

// fastInt decodes a plain JSON integer (no fraction, exponent or leading zero, at most 18
// digits) that fits ik, as the wire value, and consumes it. Anything else reports false without
// consuming, for the general path to accept or reject as protojson does.
func (d *decoder) fastInt(ik intKind) (uint64, bool) {
	in := d.in
	i := d.pos
	neg := in[i] == '-'
	if neg {
		i++
	}
	start := i
	var v uint64
	for i < len(in) && '0' <= in[i] && in[i] <= '9' {
		v = v*10 + uint64(in[i]-'0')
		i++
	}
	n := i - start
	if n == 0 || n > 18 || (n > 1 && in[start] == '0') || (i < len(in) && notDelim[in[i]]) {
		return 0, false
	}
	s := int64(v)
	if neg {
		s = -s
	}
	var w uint64
	switch ik {
	case ikInt32, ikSint32, ikSfixed32:
		if s < math.MinInt32 || s > math.MaxInt32 {
			return 0, false
		}
		switch ik {
		case ikSint32:
			w = protowire.EncodeZigZag(s)
		case ikSfixed32:
			w = uint64(uint32(int32(s)))
		default:
			w = uint64(s)
		}
	case ikInt64:
		w = uint64(s)
	case ikSint64:
		w = protowire.EncodeZigZag(s)
	case ikUint32:
		if neg || v > math.MaxUint32 {
			return 0, false
		}
		w = v
	case ikUint64:
		if neg {
			return 0, false
		}
		w = v
	default:
		return 0, false
	}
	d.pos = i
	return w, true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

var pow10f32 = [...]float32{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// fastFloat decodes a plain JSON decimal (digits, an optional fraction, no exponent) whose
// digits fit the float's mantissa exactly, as the wire bits, and consumes it. The value is the
// exact integer of its digits divided by an exact power of ten: one correctly rounded IEEE
// operation, the same result as strconv.ParseFloat (this is its "exact" path). Anything else
// reports false without consuming.
func (d *decoder) fastFloat(f32 bool) (uint64, bool) {
	in := d.in
	i := d.pos
	neg := in[i] == '-'
	if neg {
		i++
	}
	start := i
	var m uint64
	for i < len(in) && '0' <= in[i] && in[i] <= '9' {
		m = m*10 + uint64(in[i]-'0')
		i++
	}
	n := i - start
	if n == 0 || (n > 1 && in[start] == '0') {
		return 0, false
	}
	k := 0
	if i < len(in) && in[i] == '.' {
		i++
		fs := i
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			m = m*10 + uint64(in[i]-'0')
			i++
		}
		k = i - fs
		if k == 0 {
			return 0, false
		}
	}
	if n+k > 19 || (i < len(in) && notDelim[in[i]]) {
		return 0, false
	}
	if f32 {
		if m >= 1<<24 || k >= len(pow10f32) {
			return 0, false
		}
		x := float32(m) / pow10f32[k]
		if neg {
			x = -x
		}
		d.pos = i
		return uint64(math.Float32bits(x)), true
	}
	if m >= 1<<53 || k >= len(pow10) {
		return 0, false
	}
	x := float64(m) / pow10[k]
	if neg {
		x = -x
	}
	d.pos = i
	return math.Float64bits(x), true
}

// stringField is singular for a string field, with the common case (ASCII, no escapes) in
// line.
func (d *decoder) stringField(f *fieldPlan) (bool, *Error) {
	in, p := d.in, d.pos
	if p < len(in) && in[p] == '"' {
		i, high := scanString(in, p+1)
		if i < len(in) && in[i] == '"' && high == 0 && i-p-1 <= d.maxString {
			d.pos = i + 1
			if i == p+1 && !f.presence {
				return false, nil
			}
			d.out = appendVarint(d.out, f.tag)
			d.out = appendBytes(d.out, in[p+1:i])
			return true, nil
		}
	}
	return d.singular(f, f.tag, 0)
}
