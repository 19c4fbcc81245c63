package delta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/data/protosafe"
	"github.com/evctl/evctl/pkg/data/worker"
)

// shredder turns record values into Parquet column values of one layout (Dremel shredding
// straight from the wire bytes into the columns of the file's batch: no row is built). It is
// reused across records and is not safe for concurrent use.
type shredder struct {
	l    *layout
	cols [][]parquet.Value // the destination while into runs
	lens []int             // the column lengths before the record, to undo a bad one
	top  []slot
	// The last event_date rendered: records of a partition mostly share their day.
	lastDay     int64
	lastDayText string
	generic     bool // no inline conversion of top-level leaves (tests compare both paths)
}

func (l *layout) newShredder() *shredder {
	return &shredder{l: l, lens: make([]int, l.ncols), top: make([]slot, len(l.top.fields))}
}

// start decodes one value's top-level fields and returns its partition values, which pick the
// file; into then writes its columns. The error is a *worker.RecordError naming the field.
func (s *shredder) start(value []byte, parts []string) ([]string, error) {
	resetSlots(s.top)
	if err := s.l.top.decode(value, s.top); err != nil {
		return nil, &worker.RecordError{Reason: err.Error()}
	}
	parts = parts[:0]
	for _, pc := range s.l.partitions {
		v, err := s.partitionValue(pc)
		if err != nil {
			return nil, &worker.RecordError{Reason: err.Error()}
		}
		parts = append(parts, v)
	}
	return parts, nil
}

// into appends the values of the record start decoded to cols (one slice per leaf column, as
// many values as the row has in that column). On error cols are as they were and the error is
// a *worker.RecordError.
func (s *shredder) into(cols [][]parquet.Value) error {
	s.cols = cols
	defer func() { s.cols = nil }()
	for i, c := range cols {
		s.lens[i] = len(c)
	}
	for _, n := range s.l.root {
		var sl *slot
		if n.field != nil {
			sl = &s.top[n.slot]
		}
		if n.fast && sl.n > 0 && !s.generic {
			if err := s.fastLeaf(n, sl); err != nil {
				s.undo(cols)
				return &worker.RecordError{Reason: err.Error()}
			}
			continue
		}
		if err := s.write(n, sl, -1, 0, 0, 0); err != nil {
			s.undo(cols)
			return &worker.RecordError{Reason: err.Error()}
		}
	}
	return nil
}

// undo truncates cols to their lengths before the record.
func (s *shredder) undo(cols [][]parquet.Value) {
	for i, c := range cols {
		clear(c[s.lens[i]:])
		cols[i] = c[:s.lens[i]]
	}
}

func (s *shredder) write(n *node, sl *slot, i, rep, def, depth int) error {
	switch n.kind {
	case kLeaf:
		return s.leaf(n, sl, i, rep, def)
	case kStruct:
		return s.strct(n, sl, i, rep, def, depth)
	case kList:
		return s.list(n, sl, rep, def, depth)
	default:
		return s.mapEntries(n, sl, rep, def, depth)
	}
}

func (s *shredder) nulls(n *node, rep, def int) {
	for c := n.first; c < n.first+n.ncols; c++ {
		s.cols[c] = append(s.cols[c], parquet.NullValue().Level(rep, def, c))
	}
}

func (s *shredder) missing(n *node, rep, def int) error {
	if n.required {
		return fmt.Errorf("required field %s is missing", s.where(n))
	}
	s.nulls(n, rep, def)
	return nil
}

func (s *shredder) where(n *node) string {
	if n.field != nil {
		return string(n.field.FullName())
	}
	return n.name
}

func (s *shredder) leaf(n *node, sl *slot, i, rep, def int) error {
	present := sl != nil && sl.n > 0
	if !present && n.implicit && i < 0 {
		// Implicit presence (proto3 without optional): absent means the default value.
		v, err := s.defaultValue(n)
		if err != nil {
			return err
		}
		s.cols[n.col] = append(s.cols[n.col], v.Level(rep, def+b2i(n.optional), n.col))
		return nil
	}
	if !present {
		return s.missing(n, rep, def)
	}
	v, ok, err := s.value(n, sl, i)
	if err != nil {
		return fmt.Errorf("field %s: %w", s.where(n), err)
	}
	if !ok {
		return s.missing(n, rep, def)
	}
	s.cols[n.col] = append(s.cols[n.col], v.Level(rep, def+b2i(n.optional), n.col))
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *shredder) defaultValue(n *node) (parquet.Value, error) {
	switch n.conv {
	case cString, cBytes:
		return parquet.ByteArrayValue(nil), nil
	case cEnum:
		return s.enumValue(n.field.Enum(), 0), nil
	}
	return s.scalar(n.conv, 0, n.field)
}

// value converts the occurrence i of sl (the last one, or every chunk of a message, when i < 0).
func (s *shredder) value(n *node, sl *slot, i int) (parquet.Value, bool, error) {
	switch n.conv {
	case cTimestamp, cDate, cJSON:
		return s.messageValue(n, chunks(sl, i))
	}
	if n.wrapper {
		return s.wrapperValue(n, chunks(sl, i))
	}
	switch n.conv {
	case cString, cBytes:
		b := sl.bufs[idx(sl.bufs, i)]
		if n.conv == cString && !utf8.Valid(b) {
			return parquet.Value{}, false, fmt.Errorf("string is not valid UTF-8")
		}
		return parquet.ByteArrayValue(b), true, nil
	}
	if len(sl.vals) == 0 {
		return parquet.Value{}, false, fmt.Errorf("wire value missing")
	}
	raw := sl.vals[idx(sl.vals, i)]
	if n.conv == cEnum {
		return s.enumValue(n.field.Enum(), raw), true, nil
	}
	v, err := s.scalar(n.conv, raw, n.field)
	return v, err == nil, err
}

func idx[T any](s []T, i int) int {
	if i < 0 {
		return len(s) - 1
	}
	return i
}

func chunks(sl *slot, i int) [][]byte {
	if i >= 0 {
		return sl.bufs[i : i+1]
	}
	return sl.bufs
}

func (s *shredder) enumValue(ed protoreflect.EnumDescriptor, raw uint64) parquet.Value {
	num := protoreflect.EnumNumber(int32(raw))
	if ev := ed.Values().ByNumber(num); ev != nil {
		return parquet.ByteArrayValue([]byte(ev.Name()))
	}
	return parquet.ByteArrayValue(strconv.AppendInt(nil, int64(num), 10))
}

// scalar converts a raw varint or fixed value.
func (s *shredder) scalar(c conv, raw uint64, fd protoreflect.FieldDescriptor) (parquet.Value, error) {
	switch c {
	case cBool:
		return parquet.BooleanValue(raw != 0), nil
	case cInt32:
		return parquet.Int32Value(int32(raw)), nil
	case cSint32:
		return parquet.Int32Value(int32(protowire.DecodeZigZag(raw & math.MaxUint32))), nil
	case cInt64:
		if k := fd.Kind(); k == protoreflect.Uint32Kind || k == protoreflect.Fixed32Kind {
			return parquet.Int64Value(int64(uint32(raw))), nil
		}
		return parquet.Int64Value(int64(raw)), nil
	case cSint64:
		return parquet.Int64Value(protowire.DecodeZigZag(raw)), nil
	case cUint64:
		var b [decimalBytes]byte
		binary.BigEndian.PutUint64(b[1:], raw)
		return parquet.FixedLenByteArrayValue(b[:]), nil
	case cFloat:
		return parquet.FloatValue(math.Float32frombits(uint32(raw))), nil
	case cDouble:
		return parquet.DoubleValue(math.Float64frombits(raw)), nil
	}
	return parquet.Value{}, fmt.Errorf("unexpected conversion %d", c)
}

// smallFields reads the varint/fixed fields 1..3 of a small message (Timestamp, Date, wrappers)
// over its chunks; the last occurrence wins. Length-delimited field 1 comes back in b.
func smallFields(cs [][]byte) (v [4]uint64, set [4]bool, b []byte, err error) {
	for _, c := range cs {
		for len(c) > 0 {
			num, typ, n := protowire.ConsumeTag(c)
			if n < 0 {
				return v, set, nil, protowire.ParseError(n)
			}
			c = c[n:]
			var x uint64
			var m int
			switch typ {
			case protowire.VarintType:
				x, m = protowire.ConsumeVarint(c)
			case protowire.Fixed32Type:
				var y uint32
				y, m = protowire.ConsumeFixed32(c)
				x = uint64(y)
			case protowire.Fixed64Type:
				x, m = protowire.ConsumeFixed64(c)
			case protowire.BytesType:
				var bb []byte
				bb, m = protowire.ConsumeBytes(c)
				if num == 1 {
					b = bb
					set[1] = true
				}
			default:
				m = protowire.ConsumeFieldValue(num, typ, c)
			}
			if m < 0 {
				return v, set, nil, protowire.ParseError(m)
			}
			c = c[m:]
			if num >= 1 && num <= 3 && typ != protowire.BytesType {
				v[num], set[num] = x, true
			}
		}
	}
	return v, set, b, nil
}

// Timestamp bounds of google.protobuf.Timestamp (0001-01-01 to 9999-12-31).
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

func timestampMicros(cs [][]byte) (int64, error) {
	v, _, _, err := smallFields(cs)
	if err != nil {
		return 0, err
	}
	sec, nanos := int64(v[1]), int32(v[2])
	if sec < minTimestampSeconds || sec > maxTimestampSeconds || nanos < 0 || nanos > 999_999_999 {
		return 0, fmt.Errorf("timestamp out of range (seconds %d, nanos %d)", sec, nanos)
	}
	return sec*1_000_000 + int64(nanos)/1000, nil
}

func (s *shredder) messageValue(n *node, cs [][]byte) (parquet.Value, bool, error) {
	switch n.conv {
	case cTimestamp:
		us, err := timestampMicros(cs)
		if err != nil {
			return parquet.Value{}, false, err
		}
		return parquet.Int64Value(us), true, nil
	case cDate:
		v, _, _, err := smallFields(cs)
		if err != nil {
			return parquet.Value{}, false, err
		}
		y, m, d := int(int32(v[1])), int(int32(v[2])), int(int32(v[3]))
		if y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31 {
			return parquet.Value{}, false, fmt.Errorf("date %04d-%02d-%02d is not a full calendar date", y, m, d)
		}
		t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		if t.Day() != d {
			return parquet.Value{}, false, fmt.Errorf("date %04d-%02d-%02d does not exist", y, m, d)
		}
		return parquet.Int32Value(int32(t.Unix() / 86400)), true, nil
	}
	// JSON-valued well-known types: their protojson text.
	js, err := jsonText(n.field.Message(), bytes.Join(cs, nil))
	if err != nil {
		return parquet.Value{}, false, err
	}
	return parquet.ByteArrayValue(js), true, nil
}

// jsonText decodes b as a message of md and renders it as protojson.
func jsonText(md protoreflect.MessageDescriptor, b []byte) ([]byte, error) {
	m := dynamicpb.NewMessage(md)
	if err := protosafe.Unmarshal(proto.UnmarshalOptions{}, b, m); err != nil {
		return nil, fmt.Errorf("malformed %s: %w", md.FullName(), err)
	}
	return protojson.Marshal(m)
}

func (s *shredder) wrapperValue(n *node, cs [][]byte) (parquet.Value, bool, error) {
	v, set, b, err := smallFields(cs)
	if err != nil {
		return parquet.Value{}, false, err
	}
	switch n.conv {
	case cString, cBytes:
		if !set[1] {
			b = nil
		}
		if n.conv == cString && !utf8.Valid(b) {
			return parquet.Value{}, false, fmt.Errorf("string is not valid UTF-8")
		}
		return parquet.ByteArrayValue(b), true, nil
	}
	out, err := s.scalar(n.conv, v[1], n.field.Message().Fields().ByNumber(1))
	return out, err == nil, err
}

func (s *shredder) strct(n *node, sl *slot, i, rep, def, depth int) error {
	if sl == nil || sl.n == 0 {
		return s.missing(n, rep, def)
	}
	d := def + b2i(n.optional)
	sub := make([]slot, len(n.msg.fields))
	for _, c := range chunks(sl, i) {
		if err := n.msg.decode(c, sub); err != nil {
			return err
		}
	}
	for _, c := range n.children {
		var csl *slot
		if c.field != nil {
			csl = &sub[c.slot]
		}
		if err := s.write(c, csl, -1, rep, d, depth); err != nil {
			return err
		}
	}
	return nil
}

func (s *shredder) list(n *node, sl *slot, rep, def, depth int) error {
	if n.field == nil {
		return s.missing(n, rep, def)
	}
	d := def + b2i(n.optional) // a repeated field is never null: at worst an empty list
	if sl == nil || sl.n == 0 {
		s.nulls(n.elem, rep, d)
		return nil
	}
	for j := 0; j < sl.n; j++ {
		r := rep
		if j > 0 {
			r = depth + 1
		}
		if err := s.write(n.elem, sl, j, r, d+1, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (s *shredder) mapEntries(n *node, sl *slot, rep, def, depth int) error {
	if n.field == nil {
		return s.missing(n, rep, def)
	}
	d := def + b2i(n.optional)
	if sl == nil || sl.n == 0 {
		s.nulls(n.key, rep, d)
		s.nulls(n.val, rep, d)
		return nil
	}
	entry := make([]slot, 2)
	for j := 0; j < sl.n; j++ {
		resetSlots(entry)
		if err := n.msg.decode(sl.bufs[j], entry); err != nil {
			return err
		}
		r := rep
		if j > 0 {
			r = depth + 1
		}
		if err := s.leafOrDefault(n.key, &entry[0], r, d+1, depth+1); err != nil {
			return err
		}
		if err := s.leafOrDefault(n.val, &entry[1], r, d+1, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// leafOrDefault writes a map key or value: absent means the type's default in proto maps.
func (s *shredder) leafOrDefault(n *node, sl *slot, rep, def, depth int) error {
	if sl.n == 0 && n.kind == kLeaf && n.field.Message() == nil {
		v, err := s.defaultValue(n)
		if err != nil {
			return err
		}
		s.cols[n.col] = append(s.cols[n.col], v.Level(rep, def+b2i(n.optional), n.col))
		return nil
	}
	if sl.n == 0 && n.kind == kStruct {
		sl = &slot{n: 1, bufs: [][]byte{nil}} // an absent message value is the empty message
	}
	return s.write(n, sl, -1, rep, def, depth)
}

// partitionValue is a partition column's value as Delta serializes it; "" is null.
func (s *shredder) partitionValue(pc partCol) (string, error) {
	sl := &s.top[pc.slot]
	if sl.n == 0 {
		if pc.field.HasPresence() || pc.field.Message() != nil {
			return "", nil
		}
	}
	switch {
	case pc.date:
		us, err := timestampMicros(sl.bufs)
		if err != nil {
			return "", fmt.Errorf("field %s: %w", pc.field.FullName(), err)
		}
		day := us / (86400 * 1_000_000)
		if us < 0 && us%(86400*1_000_000) != 0 {
			day-- // floor: before 1970 the division rounds towards zero
		}
		if s.lastDayText == "" || day != s.lastDay {
			s.lastDay, s.lastDayText = day, time.UnixMicro(us).UTC().Format(time.DateOnly)
		}
		return s.lastDayText, nil
	case pc.conv == cString:
		if sl.n == 0 {
			return "", nil
		}
		return string(sl.bufs[len(sl.bufs)-1]), nil
	case pc.conv == cEnum:
		var raw uint64
		if sl.n > 0 {
			raw = sl.vals[len(sl.vals)-1]
		}
		return string(s.enumValue(pc.enum, raw).ByteArray()), nil
	case pc.conv == cTimestamp:
		us, err := timestampMicros(sl.bufs)
		if err != nil {
			return "", err
		}
		return time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.000000"), nil
	}
	var raw uint64
	if sl.n > 0 && len(sl.vals) > 0 {
		raw = sl.vals[len(sl.vals)-1]
	}
	v, err := s.scalar(pc.conv, raw, pc.field)
	if err != nil {
		return "", err
	}
	return valueText(pc.conv, v), nil
}

// valueText renders a primitive value as Delta partition values and statistics spell it.
func valueText(c conv, v parquet.Value) string {
	switch c {
	case cBool:
		return strconv.FormatBool(v.Boolean())
	case cInt32, cSint32:
		return strconv.FormatInt(int64(v.Int32()), 10)
	case cInt64, cSint64:
		return strconv.FormatInt(v.Int64(), 10)
	case cUint64:
		return strconv.FormatUint(binary.BigEndian.Uint64(v.ByteArray()[1:]), 10)
	case cFloat:
		return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32)
	case cDouble:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case cDate:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly)
	}
	return string(v.ByteArray())
}
