package typemap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// CHRowEncoder writes event messages as rows of ClickHouse's JSONEachRow input format, for the
// columns ClickHouse(md, f) maps them to. It is the one place that knows how a value lands in
// its column, beside the mapping itself, so the two cannot drift apart.
type CHRowEncoder struct {
	md   protoreflect.MessageDescriptor
	f    CHFeatures
	cols []CHColumn
	keys [][]byte // each column's `"name":` prefix, escaped once
}

// NewCHRowEncoder maps md (see ClickHouse) and returns an encoder of its messages.
func NewCHRowEncoder(md protoreflect.MessageDescriptor, f CHFeatures) (*CHRowEncoder, error) {
	cols, err := ClickHouse(md, f)
	if err != nil {
		return nil, err
	}
	e := &CHRowEncoder{md: md, f: f, cols: cols}
	for _, c := range cols {
		k := appendCHString(nil, c.Name)
		e.keys = append(e.keys, append(k, ':'))
	}
	return e, nil
}

// Columns are the columns the encoder writes, in order.
func (e *CHRowEncoder) Columns() []CHColumn { return e.cols }

// Features are the server features the encoder writes for.
func (e *CHRowEncoder) Features() CHFeatures { return e.f }

// ValueError is a value its column cannot hold exactly (a timestamp before 1970 in a DateTime,
// a date after 2105 in a Date): the record is refused rather than stored wrong.
type ValueError struct {
	Column string
	Reason string
}

func (e *ValueError) Error() string { return fmt.Sprintf("column %s: %s", e.Column, e.Reason) }

// AppendRow appends m as one JSON object (no newline) with every column, or returns a
// *ValueError and buf unchanged.
func (e *CHRowEncoder) AppendRow(buf []byte, m protoreflect.Message) ([]byte, error) {
	if m.Descriptor().FullName() != e.md.FullName() {
		return buf, fmt.Errorf("typemap: clickhouse row: message is %s, want %s", m.Descriptor().FullName(), e.md.FullName())
	}
	start := len(buf)
	buf = append(buf, '{')
	for i := range e.cols {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, e.keys[i]...)
		var err error
		buf, err = e.value(buf, &e.cols[i], m, 0)
		if err != nil {
			return buf[:start], err
		}
	}
	return append(buf, '}'), nil
}

// value appends column c's value read from m along c.path[i:]. m may be invalid (an absent
// record above), which yields null, an empty array or the type's zero.
func (e *CHRowEncoder) value(buf []byte, c *CHColumn, m protoreflect.Message, i int) ([]byte, error) {
	st := c.path[i]
	present := m != nil && m.IsValid() && m.Has(st.fd)
	switch st.role {
	case roleRecord:
		var sub protoreflect.Message
		if present {
			sub = m.Get(st.fd).Message()
		}
		return e.value(buf, c, sub, i+1)
	case roleRecords:
		buf = append(buf, '[')
		if present {
			l := m.Get(st.fd).List()
			for j := 0; j < l.Len(); j++ {
				if j > 0 {
					buf = append(buf, ',')
				}
				var err error
				if buf, err = e.value(buf, c, l.Get(j).Message(), i+1); err != nil {
					return buf, err
				}
			}
		}
		return append(buf, ']'), nil
	case roleMapKeys, roleMapVals:
		buf = append(buf, '[')
		if present {
			mp := m.Get(st.fd).Map()
			for j, k := range sortedKeys(mp) {
				if j > 0 {
					buf = append(buf, ',')
				}
				var err error
				if st.role == roleMapKeys {
					buf, err = e.scalar(buf, c, st.fd.MapKey(), k.Value())
				} else if v := st.fd.MapValue(); v.Kind() == protoreflect.MessageKind && classify(v.Message()) == msgRecord {
					buf, err = e.value(buf, c, mp.Get(k).Message(), i+1)
				} else {
					buf, err = e.scalar(buf, c, v, mp.Get(k))
				}
				if err != nil {
					return buf, err
				}
			}
		}
		return append(buf, ']'), nil
	}
	fd := st.fd
	switch {
	case c.leaf == leafMap:
		buf = append(buf, '{')
		if present {
			mp := m.Get(fd).Map()
			for j, k := range sortedKeys(mp) {
				if j > 0 {
					buf = append(buf, ',')
				}
				buf = appendCHString(buf, k.String())
				buf = append(buf, ':')
				var err error
				if buf, err = e.scalar(buf, c, fd.MapValue(), mp.Get(k)); err != nil {
					return buf, err
				}
			}
		}
		return append(buf, '}'), nil
	case fd.IsList():
		buf = append(buf, '[')
		if present {
			l := m.Get(fd).List()
			for j := 0; j < l.Len(); j++ {
				if j > 0 {
					buf = append(buf, ',')
				}
				var err error
				if buf, err = e.scalar(buf, c, fd, l.Get(j)); err != nil {
					return buf, err
				}
			}
		}
		return append(buf, ']'), nil
	case !present && (fd.HasPresence() || m == nil || !m.IsValid()):
		if isNullable(c.Type) {
			return append(buf, "null"...), nil
		}
		return e.zero(buf, c, fd)
	}
	return e.scalar(buf, c, fd, m.Get(fd))
}

// zero is the value of a non-Nullable column whose field is absent: its field's default.
func (e *CHRowEncoder) zero(buf []byte, c *CHColumn, fd protoreflect.FieldDescriptor) ([]byte, error) {
	t := unwrap(fd)
	if t.Kind() == protoreflect.MessageKind {
		switch classify(t.Message()) {
		case msgTimestamp:
			if c.leaf == leafNanos {
				return append(buf, '0'), nil
			}
			return append(buf, `"1970-01-01 00:00:00"`...), nil
		case msgDate:
			return append(buf, `"1970-01-01"`...), nil
		case msgJSON:
			return append(buf, `""`...), nil
		}
	}
	return e.scalar(buf, c, t, t.Default())
}

// scalar appends one non-record value of field fd.
func (e *CHRowEncoder) scalar(buf []byte, c *CHColumn, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	if fd.Kind() == protoreflect.MessageKind && classify(fd.Message()) == msgWrapper {
		inner := fd.Message().Fields().ByName("value")
		return e.scalar(buf, c, inner, v.Message().Get(inner))
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		switch {
		case e.f.Bool:
			return strconv.AppendBool(buf, v.Bool()), nil
		case v.Bool():
			return append(buf, '1'), nil
		}
		return append(buf, '0'), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(buf, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(buf, v.Uint(), 10), nil
	case protoreflect.FloatKind:
		return appendCHFloat(buf, v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return appendCHFloat(buf, v.Float(), 64), nil
	case protoreflect.StringKind:
		return appendCHString(buf, v.String()), nil
	case protoreflect.BytesKind:
		return appendCHBytes(buf, v.Bytes()), nil
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByNumber(v.Enum())
		if ev == nil {
			return buf, &ValueError{Column: c.Name, Reason: fmt.Sprintf("enum number %d is not a value of %s in this table", v.Enum(), fd.Enum().FullName())}
		}
		return appendCHString(buf, string(ev.Name())), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		msg := v.Message()
		switch classify(fd.Message()) {
		case msgTimestamp:
			return e.timestamp(buf, c, msg)
		case msgDate:
			return date(buf, c, msg)
		case msgJSON:
			j, err := protojson.Marshal(msg.Interface())
			if err != nil {
				return buf, &ValueError{Column: c.Name, Reason: err.Error()}
			}
			// protojson varies its spacing on purpose; compacted, the text is stable.
			var compact bytes.Buffer
			if err := json.Compact(&compact, j); err != nil {
				return buf, &ValueError{Column: c.Name, Reason: err.Error()}
			}
			return appendCHBytes(buf, compact.Bytes()), nil
		}
	}
	return buf, &ValueError{Column: c.Name, Reason: fmt.Sprintf("field kind %s has no ClickHouse form", fd.Kind())}
}

// DateTime (and Date) on 18.16 hold 1970-01-01 .. 2105-12-31: the server's date tables end
// there, and later values come back wrong rather than failing.
var (
	chMinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	chMaxTime = time.Date(2106, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	// DateTime64(9) is nanoseconds in an Int64: 1677-09-21 .. 2262-04-11.
	chMinTime64 = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	chMaxTime64 = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

func (e *CHRowEncoder) timestamp(buf []byte, c *CHColumn, msg protoreflect.Message) ([]byte, error) {
	fields := msg.Descriptor().Fields()
	secs := msg.Get(fields.ByName("seconds")).Int()
	nanos := msg.Get(fields.ByName("nanos")).Int()
	if nanos < 0 || nanos > 999_999_999 {
		return buf, &ValueError{Column: c.Name, Reason: fmt.Sprintf("timestamp nanos %d out of range", nanos)}
	}
	lo, hi := chMinTime, chMaxTime
	if e.f.DateTime64 {
		lo, hi = chMinTime64, chMaxTime64
	}
	if secs < lo || secs >= hi {
		return buf, &ValueError{Column: c.Name, Reason: fmt.Sprintf("timestamp %s is outside what ClickHouse %s holds (%s .. %s)",
			time.Unix(secs, nanos).UTC().Format(time.RFC3339Nano), e.f.Version, time.Unix(lo, 0).UTC().Format("2006-01-02"), time.Unix(hi, 0).UTC().Format("2006-01-02"))}
	}
	if c.leaf == leafNanos {
		return strconv.AppendInt(buf, nanos, 10), nil
	}
	t := time.Unix(secs, nanos).UTC()
	buf = append(buf, '"')
	if e.f.DateTime64 {
		buf = t.AppendFormat(buf, "2006-01-02 15:04:05.000000000")
	} else {
		buf = t.AppendFormat(buf, "2006-01-02 15:04:05")
	}
	return append(buf, '"'), nil
}

func date(buf []byte, c *CHColumn, msg protoreflect.Message) ([]byte, error) {
	fields := msg.Descriptor().Fields()
	y := msg.Get(fields.ByName("year")).Int()
	mo := msg.Get(fields.ByName("month")).Int()
	d := msg.Get(fields.ByName("day")).Int()
	t := time.Date(int(y), time.Month(mo), int(d), 0, 0, 0, 0, time.UTC)
	if mo < 1 || mo > 12 || d < 1 || d > 31 || t.Day() != int(d) || t.Unix() < chMinTime || t.Unix() >= chMaxTime {
		return buf, &ValueError{Column: c.Name, Reason: fmt.Sprintf("date %04d-%02d-%02d is not a day a ClickHouse Date holds (1970-01-01 .. 2105-12-31)", y, mo, d)}
	}
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, "2006-01-02")
	return append(buf, '"'), nil
}

// isNullable reports whether a column's values (its innermost elements, for arrays) are Nullable.
func isNullable(t string) bool {
	for strings.HasPrefix(t, "Array(") {
		t = t[len("Array("):]
	}
	return strings.HasPrefix(t, "Nullable(")
}

func sortedKeys(mp protoreflect.Map) []protoreflect.MapKey {
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

// appendCHFloat writes NaN and infinities as the quoted words ClickHouse's JSON reader takes.
func appendCHFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, `"nan"`...)
	case math.IsInf(f, 1):
		return append(buf, `"inf"`...)
	case math.IsInf(f, -1):
		return append(buf, `"-inf"`...)
	}
	return strconv.AppendFloat(buf, f, 'g', -1, bits)
}

// appendCHString writes s as a JSON string for ClickHouse.
func appendCHString(buf []byte, s string) []byte { return appendCHBytes(buf, []byte(s)) }

// appendCHBytes writes b as a JSON string, escaping only quotes, backslashes and control bytes:
// ClickHouse reads every other byte as it is, so bytes fields (and strings that are not UTF-8)
// land unchanged in a String column.
func appendCHBytes(buf, b []byte) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
}
