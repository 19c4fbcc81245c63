package convert

import (
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// platform fills the top-level platform fields the event left out: event_id with a UUIDv7,
// received_at with the current time.
func (d *decoder) platform(has *uint64, hasOff int) *Error {
	p := d.p
	needID := p.eventID != nil && !d.test(*has, hasOff, p.eventIdx)
	needAt := p.receivedAt != nil && !d.test(*has, hasOff, p.receivedIdx)
	if !needID && !needAt {
		return nil
	}
	var t time.Time
	if needAt || p.sharedNow {
		t = p.opts.Now()
	}
	if needID {
		var id [16]byte
		switch {
		case p.sharedNow:
			id = newV7(t)
		case p.fastID:
			id = newV7(time.Now())
		default:
			u, err := p.opts.NewID()
			if err != nil {
				return errorf("event_id: " + err.Error())
			}
			id = u
		}
		d.out = appendVarint(d.out, p.eventID.tag)
		d.out = append(d.out, 36)
		d.out = appendUUID(d.out, id)
		d.testSet(has, hasOff, p.eventIdx)
	}
	if needAt {
		d.out = appendVarint(d.out, p.receivedAt.bytesTag)
		start := d.openLen()
		if s := t.Unix(); s != 0 {
			d.out = append(d.out, 1<<3|byte(protowire.VarintType))
			d.out = appendVarint(d.out, uint64(s))
		}
		if n := t.Nanosecond(); n != 0 {
			d.out = append(d.out, 2<<3|byte(protowire.VarintType))
			d.out = appendVarint(d.out, uint64(n))
		}
		d.closeLen(start)
		d.testSet(has, hasOff, p.receivedIdx)
	}
	return nil
}

// appendUUID appends the canonical 36-character form of id without allocating.
func appendUUID(b []byte, id [16]byte) []byte {
	const hexd = "0123456789abcdef"
	n := len(b)
	b = append(b, "00000000-0000-0000-0000-000000000000"...)
	o := b[n : n+36]
	j := 0
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			j++
		}
		o[j], o[j+1] = hexd[c>>4], hexd[c&0xf]
		j += 2
	}
	return b
}

// appendSlow converts through protojson and dynamicpb, for messages using types the fast path
// does not handle. It applies the same platform fields and required checks.
func (p *Plan) appendSlow(dst, src []byte) ([]byte, error) {
	m := dynamicpb.NewMessage(p.md)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: p.opts.DropUnknown}).Unmarshal(src, m); err != nil {
		msg := err.Error()
		msg = strings.TrimLeft(strings.TrimPrefix(msg, "proto:"), " \u00a0")
		return dst, &Error{Message: msg}
	}
	if !p.opts.NoPlatform {
		fillPlatform(m, p.opts)
	}
	if path := evoptions.MissingRequired(m); path != "" {
		return dst, &Error{Field: path, Message: "required field is missing"}
	}
	out, err := proto.MarshalOptions{}.MarshalAppend(dst, m)
	if err != nil {
		return dst, &Error{Message: err.Error()}
	}
	return out, nil
}

// FillPlatform sets event_id and received_at on m when they are absent, as Append does. It is
// exported for the protojson reference path of tests and of the gateway's binary payloads.
func FillPlatform(m protoreflect.Message, opts Options) error {
	if opts.Now == nil || opts.NewID == nil {
		o, err := Compile(m.Descriptor(), opts)
		if err != nil {
			return err
		}
		opts = o.opts
	}
	return fillPlatform(m, opts)
}

func fillPlatform(m protoreflect.Message, opts Options) error {
	fds := m.Descriptor().Fields()
	if fd := fds.ByName("event_id"); fd != nil && evoptions.FieldPlatform(fd) && fd.Kind() == protoreflect.StringKind && !fd.IsList() && !m.Has(fd) {
		id, err := opts.NewID()
		if err != nil {
			return err
		}
		m.Set(fd, protoreflect.ValueOfString(string(appendUUID(nil, id))))
	}
	if fd := fds.ByName("received_at"); fd != nil && evoptions.FieldPlatform(fd) && fd.Message() != nil &&
		fd.Message().FullName() == "google.protobuf.Timestamp" && !fd.IsList() && !m.Has(fd) {
		t := opts.Now()
		ts := m.NewField(fd).Message()
		ts.Set(ts.Descriptor().Fields().ByNumber(1), protoreflect.ValueOfInt64(t.Unix()))
		ts.Set(ts.Descriptor().Fields().ByNumber(2), protoreflect.ValueOfInt32(int32(t.Nanosecond())))
		m.Set(fd, protoreflect.ValueOfMessage(ts))
	}
	return nil
}
