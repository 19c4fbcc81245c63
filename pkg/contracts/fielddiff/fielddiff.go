package fielddiff

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Op is what happened to a field.
type Op string

// The ops of a Change.
const (
	Added   Op = "added"
	Removed Op = "removed"
	Changed Op = "changed"
)

// Change is one field that differs. Path is the field's dotted path from the message
// ("address.city"); From and To are "<type> <name> = <number>" (empty for an added or removed
// field's missing side).
type Change struct {
	Op   Op
	Path string
	From string
	To   string
}

// maxDepth bounds the walk into nested record types (a recursive type ends there).
const maxDepth = 8

// Compare describes how message (a full name, "events.shop.v1.OrderPlaced") differs from the
// set oldSet to newSet. The changes are sorted by path. The error is for a set that does not
// parse or does not hold the message.
func Compare(oldSet, newSet []byte, message string) ([]Change, error) {
	oldMsg, err := find(oldSet, message)
	if err != nil {
		return nil, fmt.Errorf("fielddiff: previous set: %w", err)
	}
	newMsg, err := find(newSet, message)
	if err != nil {
		return nil, fmt.Errorf("fielddiff: new set: %w", err)
	}
	var out []Change
	walk(oldMsg, newMsg, "", 0, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func find(set []byte, message string) (protoreflect.MessageDescriptor, error) {
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(set, &fds); err != nil {
		return nil, fmt.Errorf("not a FileDescriptorSet: %w", err)
	}
	files, err := protodesc.NewFiles(&fds)
	if err != nil {
		return nil, err
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(message))
	if err != nil {
		if err == protoregistry.NotFound {
			return nil, fmt.Errorf("no message %s", message)
		}
		return nil, err
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a message", message)
	}
	return md, nil
}

func walk(oldMsg, newMsg protoreflect.MessageDescriptor, prefix string, depth int, out *[]Change) {
	of, nf := oldMsg.Fields(), newMsg.Fields()
	nums := map[protoreflect.FieldNumber]bool{}
	for i := 0; i < of.Len(); i++ {
		nums[of.Get(i).Number()] = true
	}
	for i := 0; i < nf.Len(); i++ {
		nums[nf.Get(i).Number()] = true
	}
	for n := range nums {
		o, w := of.ByNumber(n), nf.ByNumber(n)
		switch {
		case o == nil:
			*out = append(*out, Change{Op: Added, Path: prefix + string(w.Name()), To: describe(w)})
		case w == nil:
			*out = append(*out, Change{Op: Removed, Path: prefix + string(o.Name()), From: describe(o)})
		default:
			if describe(o) != describe(w) {
				*out = append(*out, Change{Op: Changed, Path: prefix + string(w.Name()), From: describe(o), To: describe(w)})
			}
			// The same record type on both sides: look inside it (its own fields may differ).
			if depth < maxDepth && o.Message() != nil && w.Message() != nil && !o.IsMap() &&
				o.Message().FullName() == w.Message().FullName() && !wellKnown(o.Message()) {
				walk(o.Message(), w.Message(), prefix+string(w.Name())+".", depth+1, out)
			}
		}
	}
}

func wellKnown(md protoreflect.MessageDescriptor) bool {
	return strings.HasPrefix(string(md.FullName()), "google.protobuf.") || strings.HasPrefix(string(md.FullName()), "google.type.")
}

// describe is a field as a reader of the contract thinks of it: "repeated string tags = 3".
func describe(f protoreflect.FieldDescriptor) string {
	var b strings.Builder
	switch {
	case f.IsMap():
		fmt.Fprintf(&b, "map<%s, %s>", typeName(f.MapKey()), typeName(f.MapValue()))
	case f.IsList():
		b.WriteString("repeated " + typeName(f))
	case f.HasPresence() && f.ContainingOneof() != nil && f.ContainingOneof().IsSynthetic():
		b.WriteString("optional " + typeName(f))
	default:
		b.WriteString(typeName(f))
	}
	fmt.Fprintf(&b, " %s = %d", f.Name(), f.Number())
	return b.String()
}

func typeName(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(f.Message().FullName())
	case protoreflect.EnumKind:
		return string(f.Enum().FullName())
	}
	return f.Kind().String()
}
