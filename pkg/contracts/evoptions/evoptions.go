// Package evoptions owns the .proto files evctl embeds (its own descriptor options and
// google/type/date.proto) and reads evctl's custom options back out of compiled descriptors.
// It knows nothing of YAML or of any sink.
package evoptions

import (
	"embed"
	"fmt"
	"io/fs"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

//go:embed proto
var embedded embed.FS

// OptionsFile is the import path of evctl's options file.
const OptionsFile = "evctl/options.proto"

// DateFile is the import path of the embedded google.type.Date.
const DateFile = "google/type/date.proto"

// ValidateFile is protovalidate's import path; required fields also carry its required rule, so
// consumers that run protovalidate enforce what the gateway enforces.
const ValidateFile = "buf/validate/validate.proto"

// Package is the proto package of evctl's options, as written in option syntax.
const Package = "evctl.options.v1"

// Extension numbers of evctl's options; they must match proto/evctl/options.proto.
const (
	fieldRequired   = 51730
	fieldStage      = 51731
	fieldPlatform   = 51732
	fieldOpenEnum   = 51733
	messageEvent    = 51730
	messageEvtStage = 51731
)

// Files returns the embedded .proto files keyed by import path.
func Files() fs.FS {
	sub, err := fs.Sub(embedded, "proto")
	if err != nil {
		panic("evoptions: embedded proto dir missing: " + err.Error()) // a build defect, not input
	}
	return sub
}

// Source returns the embedded source of an import path, or false.
func Source(path string) ([]byte, bool) {
	b, err := fs.ReadFile(Files(), path)
	return b, err == nil
}

// FieldRequired reports whether fd carries (evctl.options.v1.required) = true.
func FieldRequired(fd protoreflect.FieldDescriptor) bool {
	v, ok := lookup(fd.Options(), fieldRequired)
	return ok && v.num != 0
}

// FieldPlatform reports whether fd was injected from platform_fields.
func FieldPlatform(fd protoreflect.FieldDescriptor) bool {
	v, ok := lookup(fd.Options(), fieldPlatform)
	return ok && v.num != 0
}

// FieldOpenEnum reports whether the enum field fd accepts numbers its enum does not define
// ((evctl.options.v1.open_enum) = true, `open: true` in a contract).
func FieldOpenEnum(fd protoreflect.FieldDescriptor) bool {
	v, ok := lookup(fd.Options(), fieldOpenEnum)
	return ok && v.num != 0
}

// FieldStage returns the field's own stage option, or "" when it has the event's stage.
func FieldStage(fd protoreflect.FieldDescriptor) string {
	v, _ := lookup(fd.Options(), fieldStage)
	return string(v.bytes)
}

// MessageEvent returns the "<domain>/<event>" a message is the contract of, or "".
func MessageEvent(md protoreflect.MessageDescriptor) string {
	v, _ := lookup(md.Options(), messageEvent)
	return string(v.bytes)
}

// MessageStage returns the event stage recorded on the message, or "".
func MessageStage(md protoreflect.MessageDescriptor) string {
	v, _ := lookup(md.Options(), messageEvtStage)
	return string(v.bytes)
}

// EffectiveFieldStage is the stage a field really has: its own option, else its message's
// event stage, else the stage of the outermost event message that contains it.
func EffectiveFieldStage(fd protoreflect.FieldDescriptor) string {
	if s := FieldStage(fd); s != "" {
		return s
	}
	for parent := fd.Parent(); parent != nil; parent = parent.Parent() {
		if md, ok := parent.(protoreflect.MessageDescriptor); ok {
			if s := MessageStage(md); s != "" {
				return s
			}
		}
	}
	return ""
}

type rawValue struct {
	num   uint64
	bytes []byte
}

// lookup finds an extension field in an options message. evctl has no generated Go type for its
// options, and where they sit depends on who built the descriptor: protocompile sets them as
// dynamic extension fields, a descriptor read back from a FileDescriptorSet keeps them as unknown
// fields. Both serialise the same, so they are read off the wire. The last occurrence wins.
func lookup(opts proto.Message, num protowire.Number) (rawValue, bool) {
	if opts == nil {
		return rawValue{}, false
	}
	m := opts.ProtoReflect()
	if !m.IsValid() {
		return rawValue{}, false
	}
	// Most lookups are of an option the descriptor does not carry (a field that is not
	// required): when no field set has the number and nothing unknown was kept, its encoding
	// cannot hold it, so it is not made (lint converts every example with these lookups).
	set := len(m.GetUnknown()) > 0
	if !set {
		m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			set = fd.Number() == num
			return !set
		})
		if !set {
			return rawValue{}, false
		}
	}
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(opts)
	if err != nil {
		return rawValue{}, false
	}
	var out rawValue
	found := false
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return rawValue{}, false
		}
		b = b[l:]
		var vl int
		switch typ {
		case protowire.VarintType:
			v, k := protowire.ConsumeVarint(b)
			if n == num {
				out, found = rawValue{num: v}, true
			}
			vl = k
		case protowire.BytesType:
			v, k := protowire.ConsumeBytes(b)
			if n == num {
				out, found = rawValue{bytes: append([]byte(nil), v...)}, true
			}
			vl = k
		default:
			vl = protowire.ConsumeFieldValue(n, typ, b)
		}
		if vl < 0 {
			return rawValue{}, false
		}
		b = b[vl:]
	}
	return out, found
}

// MissingRequired returns the path of the first required field that is not set in m, walking
// into set sub-messages and list and map elements ("device.model", "items[2].sku"), or "".
func MissingRequired(m protoreflect.Message) string {
	return missingRequired(m, "")
}

func missingRequired(m protoreflect.Message, prefix string) string {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !fd.IsList() && !fd.IsMap() && FieldRequired(fd) && !m.Has(fd) {
			return prefix + string(fd.Name())
		}
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Get(fd).List()
			for j := 0; j < l.Len(); j++ {
				if p := missingRequired(l.Get(j).Message(), fmt.Sprintf("%s[%d].", prefix+string(fd.Name()), j)); p != "" {
					return p
				}
			}
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				continue
			}
			var found string
			m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				found = missingRequired(v.Message(), fmt.Sprintf("%s[%v].", prefix+string(fd.Name()), k.Interface()))
				return found == ""
			})
			if found != "" {
				return found
			}
		case m.Has(fd):
			if p := missingRequired(m.Get(fd).Message(), prefix+string(fd.Name())+"."); p != "" {
				return p
			}
		}
	}
	return ""
}
