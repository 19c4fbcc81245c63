package convert

import (
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// Defaults of Options.
const (
	DefaultMaxDepth  = 32
	DefaultMaxString = 1 << 20
)

// Options tune a Plan. The zero value rejects unknown fields, fills platform fields with a
// UUIDv7 and the current time, and applies the default limits.
type Options struct {
	// DropUnknown drops unknown fields (and unknown enum names) instead of rejecting the event,
	// like protojson's DiscardUnknown.
	DropUnknown bool
	// MaxDepth bounds the nesting of JSON objects and arrays (default DefaultMaxDepth).
	MaxDepth int
	// MaxString bounds the length of one decoded string or bytes value (default DefaultMaxString).
	MaxString int
	// NoPlatform turns off filling event_id and received_at.
	NoPlatform bool
	// Now returns received_at (default time.Now).
	Now func() time.Time
	// NewID returns event_id (default NewV7, which takes its instant from the same clock
	// reading as received_at when Now is also the default).
	NewID func() (uuid.UUID, error)
	// Lean drops the message descriptor once the plan is compiled, unless the plan's slow path
	// (protojson, for types the fast path does not handle) needs it; Descriptor then returns
	// nil. For a holder of many plans (the gateway): a descriptor built by protodesc weighs
	// about three times the plan compiled from it.
	Lean bool
}

// Plan is the compiled conversion of one message type. It is immutable and safe for concurrent
// use.
type Plan struct {
	md   protoreflect.MessageDescriptor
	root *msgPlan
	opts Options
	// fallback is set when the message uses a type the fast path does not handle.
	fallback bool
	// eventID and receivedAt are the top-level platform fields the gateway fills when absent.
	eventID, receivedAt   *fieldPlan
	eventIdx, receivedIdx int
	// fastID: NewID is the default, so ids come from newV7 without the indirection;
	// sharedNow: Now is the default too, so one clock reading serves both platform fields.
	fastID, sharedNow bool
	pool              sync.Pool // *decoder
	size              int64     // Size
}

// wkt is how a message type is written in JSON.
type wkt uint8

const (
	wktNone wkt = iota
	wktTimestamp
	wktDuration
	wktWrapper
	wktUnsupported
)

type msgPlan struct {
	name     string
	fields   []fieldPlan
	byName   map[string]int32
	required []int32 // indices of required fields
	nOneofs  int
	words    int // uint64 words of a field bitset
	wkt      wkt
}

type fieldPlan struct {
	name     string // proto name, for error paths
	jsonName string
	num      protowire.Number
	kind     protoreflect.Kind
	tag      uint64 // tag with the value's wire type
	bytesTag uint64 // tag with the bytes wire type (packed lists, messages, map entries)
	wt       protowire.Type
	ik       intKind // how a JSON integer becomes the wire value, for integer kinds
	// plainString: a singular string field (not a list, map or wrapper value).
	plainString bool
	list        bool
	isMap       bool
	packed      bool
	presence    bool // explicit presence: zero values are written
	required    bool
	hint        bool // the name and JSON name both resolve to this field, so a match needs no lookup
	// qjson and qname are the JSON and proto names quoted, as the input spells them, when hint
	// holds and the quoted form is a JSON string meaning the name; else empty.
	qjson, qname string
	oneof        int
	msg          *msgPlan // message kind, or map value message
	enum         map[string]int32
	// closedEnum lists the numbers an enum field accepts; nil for an open enum (the contract's
	// `open: true`), which takes any number, as protojson does.
	closedEnum map[int32]bool
	mapKey     *fieldPlan
	mapVal     *fieldPlan
}

// Compile builds the plan of md. It fails only on descriptors it cannot represent at all.
func Compile(md protoreflect.MessageDescriptor, opts Options) (*Plan, error) {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxString <= 0 {
		opts.MaxString = DefaultMaxString
	}
	fastID, sharedNow := opts.NewID == nil, opts.NewID == nil && opts.Now == nil
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = NewV7
	}
	c := &compiler{maxString: opts.MaxString, plans: map[protoreflect.FullName]*msgPlan{}, enums: map[protoreflect.FullName]*enumPlan{}}
	p := &Plan{md: md, opts: opts, fastID: fastID, sharedNow: sharedNow}
	p.root = c.message(md)
	p.fallback = c.unsupported
	if !opts.NoPlatform {
		for i := range p.root.fields {
			f := &p.root.fields[i]
			fd := md.Fields().ByNumber(f.num)
			if !evoptions.FieldPlatform(fd) || f.list || f.isMap {
				continue
			}
			switch {
			case f.name == "event_id" && f.kind == protoreflect.StringKind:
				p.eventID, p.eventIdx = f, i
			case f.name == "received_at" && f.msg != nil && f.msg.wkt == wktTimestamp:
				p.receivedAt, p.receivedIdx = f, i
			}
		}
	}
	p.size = c.size
	if opts.Lean && !p.fallback {
		p.md = nil
	}
	p.pool.New = func() any { return &decoder{} }
	return p, nil
}

// Size estimates the bytes the plan holds (its message and field plans, names and lookup
// maps; not the descriptor): what a holder of many plans budgets with. It is an estimate from
// the plan's shape, within tens of percent of what a heap profile shows.
func (p *Plan) Size() int64 { return p.size }

// Descriptor returns the message the plan converts to.
func (p *Plan) Descriptor() protoreflect.MessageDescriptor { return p.md }

type compiler struct {
	maxString int
	plans     map[protoreflect.FullName]*msgPlan
	// enums are the name and number tables of each enum, shared by the fields of that enum.
	enums       map[protoreflect.FullName]*enumPlan
	unsupported bool
	size        int64 // estimated bytes allocated so far (Plan.Size)
}

// enumPlan is an enum's tables, shared by every field of the enum in one plan.
type enumPlan struct {
	byName map[string]int32
	closed map[int32]bool
}

// Estimated sizes for Plan.Size: a Go map entry with its share of buckets and overhead (a
// string or int key and a small value), and the fixed parts of the plan structures.
const (
	mapEntrySize = 48
	msgPlanSize  = int64(unsafe.Sizeof(msgPlan{})) + 48 // and its map header
	fieldSize    = int64(unsafe.Sizeof(fieldPlan{}))
)

func (c *compiler) message(md protoreflect.MessageDescriptor) *msgPlan {
	if mp, ok := c.plans[md.FullName()]; ok {
		return mp
	}
	// Names are cloned: protodesc keeps a file's names in one buffer, and a plan that pointed
	// into it would keep the whole descriptor's names alive after the descriptor is dropped.
	mp := &msgPlan{name: strings.Clone(string(md.FullName())), byName: map[string]int32{}}
	c.plans[md.FullName()] = mp
	c.size += msgPlanSize + int64(len(mp.name))
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		mp.wkt = wktTimestamp
	case "google.protobuf.Duration":
		mp.wkt = wktDuration
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		mp.wkt = wktWrapper
	case "google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value",
		"google.protobuf.ListValue", "google.protobuf.FieldMask":
		mp.wkt = wktUnsupported
		c.unsupported = true
		return mp
	}
	fds := md.Fields()
	mp.fields = make([]fieldPlan, fds.Len())
	c.size += int64(fds.Len()) * fieldSize
	mp.words = (fds.Len() + 63) / 64
	mp.nOneofs = md.Oneofs().Len()
	if mp.nOneofs > 64 {
		c.unsupported = true
	}
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		f := c.field(fd)
		mp.fields[i] = f
		if f.required {
			mp.required = append(mp.required, int32(i))
		}
	}
	// JSON names first, so that a proto name equal to another field's JSON name resolves as
	// protojson does (ByJSONName before ByTextName).
	for i := 0; i < fds.Len(); i++ {
		if fds.Get(i).Kind() != protoreflect.GroupKind {
			mp.byName[mp.fields[i].name] = int32(i)
		}
	}
	for i := 0; i < fds.Len(); i++ {
		mp.byName[mp.fields[i].jsonName] = int32(i)
	}
	c.size += int64(len(mp.byName)) * mapEntrySize
	for i := range mp.fields {
		f := &mp.fields[i]
		c.size += int64(len(f.name) + len(f.jsonName) + len(f.qjson) + len(f.qname))
		a, okA := mp.byName[f.name]
		b, okB := mp.byName[f.jsonName]
		f.hint = okA && okB && a == int32(i) && b == int32(i)
		if f.hint {
			f.qjson, f.qname = quotedName(f.jsonName, c.maxString), quotedName(f.name, c.maxString)
			if f.qname == f.qjson {
				f.qname = ""
			}
		}
	}
	return mp
}

func (c *compiler) field(fd protoreflect.FieldDescriptor) fieldPlan {
	f := fieldPlan{
		name:     strings.Clone(string(fd.Name())),
		jsonName: fd.JSONName(),
		num:      fd.Number(),
		kind:     fd.Kind(),
		list:     fd.IsList(),
		isMap:    fd.IsMap(),
		packed:   fd.IsPacked(),
		presence: fd.HasPresence(),
		required: !fd.IsList() && !fd.IsMap() && (evoptions.FieldRequired(fd) || fd.Cardinality() == protoreflect.Required),
		oneof:    -1,
	}
	if f.jsonName == f.name {
		f.jsonName = f.name // one copy of a name spelled the same in JSON
	} else {
		f.jsonName = strings.Clone(f.jsonName)
	}
	if od := fd.ContainingOneof(); od != nil {
		f.oneof = od.Index()
	}
	f.plainString = fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap()
	f.wt = wireType(fd.Kind())
	f.ik = intKindOf(fd.Kind())
	f.tag = uint64(protowire.EncodeTag(fd.Number(), f.wt))
	f.bytesTag = uint64(protowire.EncodeTag(fd.Number(), protowire.BytesType))
	switch fd.Kind() {
	case protoreflect.GroupKind:
		c.unsupported = true
	case protoreflect.MessageKind:
		if fd.IsMap() {
			k, v := c.field(fd.MapKey()), c.field(fd.MapValue())
			f.mapKey, f.mapVal = &k, &v
			c.size += 2 * fieldSize
		} else {
			f.msg = c.message(fd.Message())
		}
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			c.unsupported = true
		}
		ep := c.enum(fd.Enum())
		f.enum = ep.byName
		if !evoptions.FieldOpenEnum(fd) {
			f.closedEnum = ep.closed
		}
	}
	return f
}

// enum returns ed's tables, built once per plan.
func (c *compiler) enum(ed protoreflect.EnumDescriptor) *enumPlan {
	if ep, ok := c.enums[ed.FullName()]; ok {
		return ep
	}
	vals := ed.Values()
	ep := &enumPlan{byName: make(map[string]int32, vals.Len()), closed: make(map[int32]bool, vals.Len())}
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		ep.byName[strings.Clone(string(v.Name()))] = int32(v.Number())
		ep.closed[int32(v.Number())] = true
		c.size += 2*mapEntrySize + int64(len(v.Name()))
	}
	c.enums[ed.FullName()] = ep
	return ep
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
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

// intKind classifies the integer kinds by range and wire transform.
type intKind uint8

const (
	ikNone  intKind = iota
	ikInt32         // int32, enum numbers are not fast-pathed
	ikInt64
	ikSint32
	ikSint64
	ikSfixed32
	ikUint32 // uint32, fixed32
	ikUint64 // uint64, fixed64
)

func intKindOf(k protoreflect.Kind) intKind {
	switch k {
	case protoreflect.Int32Kind:
		return ikInt32
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		return ikInt64
	case protoreflect.Sint32Kind:
		return ikSint32
	case protoreflect.Sint64Kind:
		return ikSint64
	case protoreflect.Sfixed32Kind:
		return ikSfixed32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return ikUint32
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return ikUint64
	}
	return ikNone
}

// quotedName returns `"name"` when that JSON string decodes to name (no quote, backslash or
// control character, valid UTF-8) within the string limit, else "".
func quotedName(name string, maxString int) string {
	if name == "" || len(name) > maxString || !utf8.ValidString(name) {
		return ""
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '"' || c == '\\' || c < 0x20 {
			return ""
		}
	}
	return `"` + name + `"`
}
