package breaking

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

// tree indexes everything an event's message reaches: its messages and enums (nested or
// imported) and, for each, the fields that hold it. A field inside a record has the stage of the
// field holding the record, which evoptions.EffectiveFieldStage does not see.
type tree struct {
	event   protoreflect.MessageDescriptor
	stage   string
	msgs    map[protoreflect.FullName]protoreflect.MessageDescriptor
	enums   map[protoreflect.FullName]protoreflect.EnumDescriptor
	holders map[protoreflect.FullName][]protoreflect.FieldDescriptor
}

func newTree(md protoreflect.MessageDescriptor, stage string) *tree {
	if s := evoptions.MessageStage(md); s != "" {
		stage = s
	}
	t := &tree{
		event: md, stage: stage,
		msgs:    map[protoreflect.FullName]protoreflect.MessageDescriptor{},
		enums:   map[protoreflect.FullName]protoreflect.EnumDescriptor{},
		holders: map[protoreflect.FullName][]protoreflect.FieldDescriptor{},
	}
	t.visit(md)
	return t
}

func (t *tree) visit(m protoreflect.MessageDescriptor) {
	if _, seen := t.msgs[m.FullName()]; seen {
		return
	}
	t.msgs[m.FullName()] = m
	fields := m.Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if sub := f.Message(); sub != nil {
			t.holders[sub.FullName()] = append(t.holders[sub.FullName()], f)
			t.visit(sub)
		}
		if e := f.Enum(); e != nil {
			t.holders[e.FullName()] = append(t.holders[e.FullName()], f)
			t.enums[e.FullName()] = e
		}
	}
	// Declared but unused nested types still have positions buf may point at.
	for i := 0; i < m.Enums().Len(); i++ {
		e := m.Enums().Get(i)
		if _, ok := t.enums[e.FullName()]; !ok {
			t.enums[e.FullName()] = e
		}
	}
	for i := 0; i < m.Messages().Len(); i++ {
		t.visit(m.Messages().Get(i))
	}
}

// fieldStage is the stage a field really has: its own stage option; else, at the top of the
// event, the event's stage; else (inside a record) prod if any field holding the record is
// prod, staging if every one is staging.
func (t *tree) fieldStage(fd protoreflect.FieldDescriptor) string {
	return t.stageOf(fd, map[protoreflect.FieldDescriptor]bool{})
}

func (t *tree) stageOf(fd protoreflect.FieldDescriptor, seen map[protoreflect.FieldDescriptor]bool) string {
	if s := evoptions.FieldStage(fd); s != "" {
		return s
	}
	m := fd.ContainingMessage()
	if m.FullName() == t.event.FullName() {
		return t.stage
	}
	seen[fd] = true
	judged := false
	for _, h := range t.holders[m.FullName()] {
		if seen[h] {
			continue
		}
		judged = true
		if t.stageOf(h, seen) == contract.StageProd {
			return contract.StageProd
		}
	}
	if !judged {
		return t.stage
	}
	return contract.StageStaging
}

// fieldPath is the dotted path of field names from the event message: "device.model".
func (t *tree) fieldPath(fd protoreflect.FieldDescriptor) string {
	return t.pathOf(fd, map[protoreflect.FullName]bool{})
}

func (t *tree) pathOf(fd protoreflect.FieldDescriptor, seen map[protoreflect.FullName]bool) string {
	m := fd.ContainingMessage()
	if m.FullName() == t.event.FullName() || seen[m.FullName()] {
		return string(fd.Name())
	}
	seen[m.FullName()] = true
	if hs := t.holders[m.FullName()]; len(hs) > 0 {
		return t.pathOf(hs[0], seen) + "." + string(fd.Name())
	}
	return string(fd.Name())
}

// containerPath is the field path of the record a message is ("" for the event message).
func (t *tree) containerPath(m protoreflect.MessageDescriptor) string {
	if m.FullName() == t.event.FullName() {
		return ""
	}
	if hs := t.holders[m.FullName()]; len(hs) > 0 {
		return t.fieldPath(hs[0])
	}
	return ""
}

// element is a candidate descriptor and the size of its source span.
type element struct {
	desc protoreflect.Descriptor
	size int
}

// locate returns the innermost message, field, enum or enum value of the tree declared in file
// path whose span holds the 1-based line and column buf reported, or nil.
func (t *tree) locate(path string, line, col int) protoreflect.Descriptor {
	l, c := line-1, col-1
	var best *element
	consider := func(d protoreflect.Descriptor) {
		if d.ParentFile() == nil || d.ParentFile().Path() != path {
			return
		}
		loc := d.ParentFile().SourceLocations().ByDescriptor(d)
		if loc.StartLine == 0 && loc.EndLine == 0 && loc.StartColumn == 0 && loc.EndColumn == 0 {
			return
		}
		in := (l > loc.StartLine || (l == loc.StartLine && c >= loc.StartColumn)) &&
			(l < loc.EndLine || (l == loc.EndLine && c <= loc.EndColumn))
		if !in {
			return
		}
		size := (loc.EndLine-loc.StartLine)*100000 + (loc.EndColumn - loc.StartColumn)
		if best == nil || size < best.size {
			best = &element{desc: d, size: size}
		}
	}
	for _, m := range t.msgs {
		consider(m)
		for i := 0; i < m.Fields().Len(); i++ {
			consider(m.Fields().Get(i))
		}
	}
	for _, e := range t.enums {
		consider(e)
		for i := 0; i < e.Values().Len(); i++ {
			consider(e.Values().Get(i))
		}
	}
	if best == nil {
		return nil
	}
	return best.desc
}

// field returns the field with the given number of the message with the given full name.
func (t *tree) field(msg protoreflect.FullName, num protoreflect.FieldNumber) protoreflect.FieldDescriptor {
	m, ok := t.msgs[msg]
	if !ok {
		return nil
	}
	return m.Fields().ByNumber(num)
}
