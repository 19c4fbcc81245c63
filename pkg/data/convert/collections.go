package convert

import (
	"bytes"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// list decodes a JSON array into a repeated field: packed when the field is, else one record
// per element.
func (d *decoder) list(f *fieldPlan, depth int) *Error {
	if d.peek() != '[' {
		return errorf("want a JSON array")
	}
	d.pos++
	packed := f.packed && f.kind != protoreflect.MessageKind && f.kind != protoreflect.StringKind && f.kind != protoreflect.BytesKind
	mark, start := len(d.out), 0
	if packed {
		d.out = appendVarint(d.out, f.bytesTag)
		start = d.openLen()
	}
	if d.peek() == ']' {
		d.pos++
		d.out = d.out[:mark]
		return nil
	}
	for i := 0; ; i++ {
		d.ws()
		if packed {
			v, ok, err := d.scalar(f)
			if err != nil {
				return err.at(i)
			}
			if ok {
				d.appendWire(f.wt, v)
			}
		} else if err := d.element(f, depth); err != nil {
			return err.at(i)
		}
		switch d.peek() {
		case ',':
			d.pos++
			continue
		case ']':
			d.pos++
		default:
			return d.syntax("want ',' or ']'")
		}
		break
	}
	if packed {
		if len(d.out) == start {
			d.out = d.out[:mark]
		} else {
			d.closeLen(start)
		}
	}
	return nil
}

// element writes one element of an unpacked repeated field: every element is written, zero or
// not.
func (d *decoder) element(f *fieldPlan, depth int) *Error {
	switch f.kind {
	case protoreflect.MessageKind:
		if d.peek() == 'n' {
			return errorf("null is not a valid element")
		}
		d.out = appendVarint(d.out, f.bytesTag)
		start := d.openLen()
		if err := d.messageValue(f.msg, depth+1); err != nil {
			return err
		}
		d.closeLen(start)
		return nil
	case protoreflect.StringKind:
		s, err := d.stringValue()
		if err != nil {
			return err
		}
		d.out = appendVarint(d.out, f.tag)
		d.out = appendBytes(d.out, s)
		return nil
	case protoreflect.BytesKind:
		b, err := d.bytesValue()
		if err != nil {
			return err
		}
		d.out = appendVarint(d.out, f.tag)
		d.out = appendBytes(d.out, b)
		return nil
	}
	v, ok, err := d.scalar(f)
	if err != nil || !ok {
		return err
	}
	d.out = appendVarint(d.out, f.tag)
	d.appendWire(f.wt, v)
	return nil
}

// mapValue decodes a JSON object into a map field, one entry record per key.
func (d *decoder) mapValue(f *fieldPlan, depth int) *Error {
	if d.peek() != '{' {
		return errorf("want a JSON object")
	}
	if depth+1 > d.maxDepth {
		return limitErr("nesting deeper than " + strconv.Itoa(d.maxDepth))
	}
	d.pos++
	keyBase, endBase := len(d.keys), len(d.keyEnds)
	defer func() { d.keys, d.keyEnds = d.keys[:keyBase], d.keyEnds[:endBase] }()
	if d.peek() == '}' {
		d.pos++
		return nil
	}
	var big map[string]struct{} // keys of a large map, for a linear-time duplicate check
	for {
		d.ws()
		ks, err := d.str()
		if err != nil {
			return err
		}
		mark := len(d.out)
		d.out = appendVarint(d.out, f.bytesTag)
		start := d.openLen()
		norm, kerr := d.mapKey(f.mapKey, ks)
		if kerr != nil {
			return kerr.key(string(ks))
		}
		if d.seenKey(norm, keyBase, endBase, &big) {
			return errorf("duplicate map key").key(cut(ks))
		}
		if f.mapKey.kind == protoreflect.StringKind {
			ks = d.keys[len(d.keys)-len(norm):] // stable while the value is decoded
		}
		if d.peek() != ':' {
			return d.syntax("want ':' after a map key")
		}
		d.pos++
		d.ws()
		keep := true
		v := f.mapVal
		switch v.kind {
		case protoreflect.MessageKind:
			if d.peek() == 'n' {
				return errorf("null is not a valid map value").key(cut(ks))
			}
			d.out = appendVarint(d.out, v.bytesTag)
			vs := d.openLen()
			if err := d.messageValue(v.msg, depth+1); err != nil {
				return err.key(string(ks))
			}
			d.closeLen(vs)
		case protoreflect.StringKind, protoreflect.BytesKind:
			var b []byte
			var err *Error
			if v.kind == protoreflect.StringKind {
				b, err = d.stringValue()
			} else {
				b, err = d.bytesValue()
			}
			if err != nil {
				return err.key(string(ks))
			}
			d.out = appendVarint(d.out, v.tag)
			d.out = appendBytes(d.out, b)
		default:
			x, ok, err := d.scalar(v)
			if err != nil {
				return err.key(string(ks))
			}
			if ok {
				d.out = appendVarint(d.out, v.tag)
				d.appendWire(v.wt, x)
			}
			keep = ok
		}
		if keep {
			d.closeLen(start)
		} else {
			// An unknown enum value being dropped drops its entry, and its key is not taken.
			d.out = d.out[:mark]
			d.dropLastKey(big)
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
		return nil
	}
}

// mapKey writes the key field of an entry and returns the key's canonical bytes, for the
// duplicate check (protojson compares parsed keys: "1" and "01" are the same int key).
func (d *decoder) mapKey(k *fieldPlan, s []byte) ([]byte, *Error) {
	var v uint64
	switch k.kind {
	case protoreflect.StringKind:
		d.out = appendVarint(d.out, k.tag)
		d.out = appendBytes(d.out, s)
		return s, nil
	case protoreflect.BoolKind:
		switch string(s) {
		case "true":
			v = 1
		case "false":
		default:
			return nil, errorf("invalid bool map key")
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		bits := 64
		if k.kind == protoreflect.Int32Kind || k.kind == protoreflect.Sint32Kind || k.kind == protoreflect.Sfixed32Kind {
			bits = 32
		}
		n, err := strconv.ParseInt(ustr(s), 10, bits)
		if err != nil {
			return nil, errorf("invalid " + k.kind.String() + " map key")
		}
		switch k.kind {
		case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
			v = protowire.EncodeZigZag(n)
		case protoreflect.Sfixed32Kind:
			v = uint64(uint32(int32(n)))
		default:
			v = uint64(n)
		}
	default:
		bits := 64
		if k.kind == protoreflect.Uint32Kind || k.kind == protoreflect.Fixed32Kind {
			bits = 32
		}
		n, err := strconv.ParseUint(ustr(s), 10, bits)
		if err != nil {
			return nil, errorf("invalid " + k.kind.String() + " map key")
		}
		v = n
	}
	d.out = appendVarint(d.out, k.tag)
	d.appendWire(k.wt, v)
	// The canonical form of a numeric key is its wire value, 8 bytes.
	var b [8]byte
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	d.raw = append(d.raw[:0], b[:]...)
	return d.raw, nil
}

// dropLastKey forgets the key seenKey recorded last.
func (d *decoder) dropLastKey(big map[string]struct{}) {
	from := 0
	if n := len(d.keyEnds); n > 1 {
		from = d.keyEnds[n-2]
	}
	if big != nil {
		delete(big, string(d.keys[from:d.keyEnds[len(d.keyEnds)-1]]))
	}
	d.keys = d.keys[:from]
	d.keyEnds = d.keyEnds[:len(d.keyEnds)-1]
}

// seenKey reports whether key was already seen in the current map, else records it. Small maps
// are scanned; past 32 keys a Go map takes over, so a huge map costs linear time.
func (d *decoder) seenKey(key []byte, keyBase, endBase int, big *map[string]struct{}) bool {
	if *big != nil {
		if _, ok := (*big)[string(key)]; ok {
			return true
		}
		(*big)[string(key)] = struct{}{}
		d.keys = append(d.keys, key...)
		d.keyEnds = append(d.keyEnds, len(d.keys))
		return false
	}
	if len(d.keyEnds)-endBase >= 32 {
		*big = make(map[string]struct{}, 64)
		from := keyBase
		for _, end := range d.keyEnds[endBase:] {
			(*big)[string(d.keys[from:end])] = struct{}{}
			from = end
		}
		return d.seenKey(key, keyBase, endBase, big)
	}
	from := keyBase
	for _, end := range d.keyEnds[endBase:] {
		if bytes.Equal(d.keys[from:end], key) {
			return true
		}
		from = end
	}
	d.keys = append(d.keys, key...)
	d.keyEnds = append(d.keyEnds, len(d.keys))
	return false
}
