package typemap

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// AppendRowBinary appends m as one row of ClickHouse's RowBinary input format, the columns in
// Columns() order: the same values AppendRow writes as JSON, in the form the server parses
// fastest (no text to scan). It returns a *ValueError and buf unchanged for a value its column
// cannot hold exactly.
func (e *CHRowEncoder) AppendRowBinary(buf []byte, m protoreflect.Message) ([]byte, error) {
	if m.Descriptor().FullName() != e.md.FullName() {
		return buf, fmt.Errorf("typemap: clickhouse row: message is %s, want %s", m.Descriptor().FullName(), e.md.FullName())
	}
	start := len(buf)
	for i := range e.cols {
		var err error
		if buf, err = e.bin(buf, &e.cols[i], m, 0); err != nil {
			return buf[:start], err
		}
	}
	return buf, nil
}

func (e *CHRowEncoder) bin(buf []byte, c *CHColumn, m protoreflect.Message, i int) ([]byte, error) {
	st := c.path[i]
	present := m != nil && m.IsValid() && m.Has(st.fd)
	switch st.role {
	case roleRecord:
		var sub protoreflect.Message
		if present {
			sub = m.Get(st.fd).Message()
		}
		return e.bin(buf, c, sub, i+1)
	case roleRecords:
		if !present {
			return binary.AppendUvarint(buf, 0), nil
		}
		l := m.Get(st.fd).List()
		buf = binary.AppendUvarint(buf, uint64(l.Len()))
		for j := 0; j < l.Len(); j++ {
			var err error
			if buf, err = e.bin(buf, c, l.Get(j).Message(), i+1); err != nil {
				return buf, err
			}
		}
		return buf, nil
	case roleMapKeys, roleMapVals:
		if !present {
			return binary.AppendUvarint(buf, 0), nil
		}
		mp := m.Get(st.fd).Map()
		buf = binary.AppendUvarint(buf, uint64(mp.Len()))
		for _, k := range sortedKeys(mp) {
			var err error
			if st.role == roleMapKeys {
				buf, err = e.binScalar(buf, c, st.fd.MapKey(), k.Value())
			} else if v := st.fd.MapValue(); v.Kind() == protoreflect.MessageKind && classify(v.Message()) == msgRecord {
				buf, err = e.bin(buf, c, mp.Get(k).Message(), i+1)
			} else {
				buf, err = e.binScalar(buf, c, v, mp.Get(k))
			}
			if err != nil {
				return buf, err
			}
		}
		return buf, nil
	}
	fd := st.fd
	switch {
	case c.leaf == leafMap:
		if !present {
			return binary.AppendUvarint(buf, 0), nil
		}
		mp := m.Get(fd).Map()
		buf = binary.AppendUvarint(buf, uint64(mp.Len()))
		for _, k := range sortedKeys(mp) {
			var err error
			if buf, err = e.binScalar(buf, c, fd.MapKey(), k.Value()); err != nil {
				return buf, err
			}
			if buf, err = e.binScalar(buf, c, fd.MapValue(), mp.Get(k)); err != nil {
				return buf, err
			}
		}
		return buf, nil
	case fd.IsList():
		if !present {
			return binary.AppendUvarint(buf, 0), nil
		}
		l := m.Get(fd).List()
		buf = binary.AppendUvarint(buf, uint64(l.Len()))
		for j := 0; j < l.Len(); j++ {
			var err error
			if buf, err = e.binScalar(buf, c, fd, l.Get(j)); err != nil {
				return buf, err
			}
		}
		return buf, nil
	case !present && (fd.HasPresence() || m == nil || !m.IsValid()):
		if isNullable(c.Type) {
			return append(buf, 1), nil
		}
		return e.binZero(buf, c, fd)
	}
	if isNullable(c.Type) {
		buf = append(buf, 0)
	}
	return e.binScalar(buf, c, fd, m.Get(fd))
}

// binZero is the value of a non-Nullable column whose field is absent: its field's default.
func (e *CHRowEncoder) binZero(buf []byte, c *CHColumn, fd protoreflect.FieldDescriptor) ([]byte, error) {
	t := unwrap(fd)
	if t.Kind() == protoreflect.MessageKind {
		switch classify(t.Message()) {
		case msgTimestamp:
			if e.f.DateTime64 && c.leaf != leafNanos {
				return binary.LittleEndian.AppendUint64(buf, 0), nil
			}
			return binary.LittleEndian.AppendUint32(buf, 0), nil
		case msgDate:
			return binary.LittleEndian.AppendUint16(buf, 0), nil
		case msgJSON:
			return binary.AppendUvarint(buf, 0), nil
		}
	}
	return e.binScalar(buf, c, t, t.Default())
}

// binScalar appends one non-record value of field fd (without a Nullable marker).
func (e *CHRowEncoder) binScalar(buf []byte, c *CHColumn, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	if fd.Kind() == protoreflect.MessageKind && classify(fd.Message()) == msgWrapper {
		inner := fd.Message().Fields().ByName("value")
		return e.binScalar(buf, c, inner, v.Message().Get(inner))
	}
	le := binary.LittleEndian
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if v.Bool() {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return le.AppendUint32(buf, uint32(int32(v.Int()))), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return le.AppendUint32(buf, uint32(v.Uint())), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return le.AppendUint64(buf, uint64(v.Int())), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return le.AppendUint64(buf, v.Uint()), nil
	case protoreflect.FloatKind:
		return le.AppendUint32(buf, math.Float32bits(float32(v.Float()))), nil
	case protoreflect.DoubleKind:
		return le.AppendUint64(buf, math.Float64bits(v.Float())), nil
	case protoreflect.StringKind:
		s := v.String()
		return append(binary.AppendUvarint(buf, uint64(len(s))), s...), nil
	case protoreflect.BytesKind:
		b := v.Bytes()
		return append(binary.AppendUvarint(buf, uint64(len(b))), b...), nil
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByNumber(v.Enum())
		if ev == nil {
			return buf, &ValueError{Column: c.Name, Reason: fmt.Sprintf("enum number %d is not a value of %s in this table", v.Enum(), fd.Enum().FullName())}
		}
		switch t := chEnum(fd.Enum()); {
		case strings.HasPrefix(t, "Enum8"):
			return append(buf, byte(int8(v.Enum()))), nil
		case strings.HasPrefix(t, "Enum16"):
			return le.AppendUint16(buf, uint16(int16(v.Enum()))), nil
		}
		return append(binary.AppendUvarint(buf, uint64(len(ev.Name()))), ev.Name()...), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		msg := v.Message()
		switch classify(fd.Message()) {
		case msgTimestamp:
			return e.binTimestamp(buf, c, msg)
		case msgDate:
			fields := msg.Descriptor().Fields()
			y, mo, d := msg.Get(fields.ByName("year")).Int(), msg.Get(fields.ByName("month")).Int(), msg.Get(fields.ByName("day")).Int()
			if _, err := date(nil, c, msg); err != nil {
				return buf, err
			}
			days := time.Date(int(y), time.Month(mo), int(d), 0, 0, 0, 0, time.UTC).Unix() / 86400
			return le.AppendUint16(buf, uint16(days)), nil
		case msgJSON:
			j, err := protojson.Marshal(msg.Interface())
			if err != nil {
				return buf, &ValueError{Column: c.Name, Reason: err.Error()}
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, j); err != nil {
				return buf, &ValueError{Column: c.Name, Reason: err.Error()}
			}
			return append(binary.AppendUvarint(buf, uint64(compact.Len())), compact.Bytes()...), nil
		}
	}
	return buf, &ValueError{Column: c.Name, Reason: fmt.Sprintf("field kind %s has no ClickHouse form", fd.Kind())}
}

func (e *CHRowEncoder) binTimestamp(buf []byte, c *CHColumn, msg protoreflect.Message) ([]byte, error) {
	if _, err := e.timestamp(nil, c, msg); err != nil { // the range checks
		return buf, err
	}
	fields := msg.Descriptor().Fields()
	secs := msg.Get(fields.ByName("seconds")).Int()
	nanos := msg.Get(fields.ByName("nanos")).Int()
	switch {
	case c.leaf == leafNanos:
		return binary.LittleEndian.AppendUint32(buf, uint32(nanos)), nil
	case e.f.DateTime64:
		return binary.LittleEndian.AppendUint64(buf, uint64(secs*1_000_000_000+nanos)), nil
	}
	return binary.LittleEndian.AppendUint32(buf, uint32(secs)), nil
}
