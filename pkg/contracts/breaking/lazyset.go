package breaking

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/diag"
)

// rawSet is a descriptor set kept encoded: each file's bytes by path. Its events are found when
// it is read (a file is decoded, looked at and dropped); descriptors are built only for the
// events a check compares, a chunk at a time (side.load). A 10,000-event set built whole held
// 2 GB; kept encoded it holds its own size.
type rawSet struct {
	files map[string][]byte // path -> encoded FileDescriptorProto
	order []string          // paths in the set's order
}

// scanSet splits an encoded FileDescriptorSet into its files without decoding them.
func scanSet(data []byte) (*rawSet, error) {
	rs := &rawSet{files: map[string][]byte{}}
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return nil, fmt.Errorf("not a FileDescriptorSet: %w", protowire.ParseError(n))
		}
		data = data[n:]
		if num != 1 || typ != protowire.BytesType { // FileDescriptorSet.file; nothing else is defined
			n = protowire.ConsumeFieldValue(num, typ, data)
			if n < 0 {
				return nil, fmt.Errorf("not a FileDescriptorSet: %w", protowire.ParseError(n))
			}
			data = data[n:]
			continue
		}
		b, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return nil, fmt.Errorf("not a FileDescriptorSet: %w", protowire.ParseError(n))
		}
		data = data[n:]
		name, err := fileName(b)
		if err != nil {
			return nil, err
		}
		if _, dup := rs.files[name]; dup {
			return nil, fmt.Errorf("invalid FileDescriptorSet: file %q appears twice", name)
		}
		rs.files[name] = b
		rs.order = append(rs.order, name)
	}
	return rs, nil
}

// fileName reads FileDescriptorProto.name (field 1) of an encoded file.
func fileName(b []byte) (string, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", fmt.Errorf("not a FileDescriptorSet: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", fmt.Errorf("not a FileDescriptorSet: %w", protowire.ParseError(n))
			}
			return string(v), nil
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", fmt.Errorf("not a FileDescriptorSet: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	return "", fmt.Errorf("invalid FileDescriptorSet: a file without a name")
}

// decode decodes one file of the set, without its source info (comments and positions take
// most of a descriptor's memory and no comparison reads them: the baseline goes to buf
// without them too).
func (rs *rawSet) decode(path string) (*descriptorpb.FileDescriptorProto, error) {
	fdp := &descriptorpb.FileDescriptorProto{}
	if err := proto.Unmarshal(rs.files[path], fdp); err != nil {
		return nil, fmt.Errorf("not a FileDescriptorSet: %s: %w", path, err)
	}
	fdp.SourceCodeInfo = nil
	return fdp, nil
}

// load builds the descriptors of the named events of a descriptor side that are not built yet:
// for each set, the events' files and everything they import, in one registry. Events whose
// files cannot be built keep the reason in bad.
func (s *side) load(ids []string) {
	s.fetchSets(ids)
	bySet := map[*rawSet][]*event{}
	for _, id := range ids {
		if e := s.events[id]; e != nil && e.file == nil && e.raw != nil && e.bad == nil {
			bySet[e.raw] = append(bySet[e.raw], e)
		}
	}
	if s.protos == nil {
		s.protos = map[protoreflect.FileDescriptor]*descriptorpb.FileDescriptorProto{}
	}
	for rs, evs := range bySet {
		sort.Slice(evs, func(i, j int) bool { return evs[i].id < evs[j].id })
		set := &descriptorpb.FileDescriptorSet{}
		byPath := map[string]*descriptorpb.FileDescriptorProto{}
		var bad error
		var visit func(p string)
		visit = func(p string) {
			if _, ok := byPath[p]; ok || bad != nil {
				return
			}
			if _, ok := rs.files[p]; !ok {
				bad = fmt.Errorf("invalid FileDescriptorSet: %q is imported but not in the set", p)
				return
			}
			fdp, err := rs.decode(p)
			if err != nil {
				bad = err
				return
			}
			byPath[p] = fdp
			for _, dep := range fdp.GetDependency() {
				visit(dep)
			}
			set.File = append(set.File, fdp)
		}
		for _, e := range evs {
			visit(e.path)
		}
		var files interface {
			FindDescriptorByName(protoreflect.FullName) (protoreflect.Descriptor, error)
			FindFileByPath(string) (protoreflect.FileDescriptor, error)
		}
		if bad == nil {
			f, err := protodesc.NewFiles(set)
			bad, files = err, f
			if err != nil {
				bad = fmt.Errorf("invalid FileDescriptorSet: %w", err)
			}
		}
		for _, e := range evs {
			if bad != nil {
				e.bad = diag.List{{Message: bad.Error(), Severity: diag.Error, Rule: RuleBaselineInvalid}}
				continue
			}
			f, err1 := files.FindFileByPath(e.path)
			d, err2 := files.FindDescriptorByName(protoreflect.FullName(e.msgName))
			md, ok := d.(protoreflect.MessageDescriptor)
			if err1 != nil || err2 != nil || !ok {
				e.bad = diag.List{{Message: fmt.Sprintf("%s has no message %s", e.path, e.msgName), Severity: diag.Error, Rule: RuleBaselineInvalid}}
				continue
			}
			e.file, e.msg = f, md
		}
		for _, fdp := range set.File {
			if files == nil {
				break
			}
			if f, err := files.FindFileByPath(fdp.GetName()); err == nil {
				s.protos[f] = fdp
			}
		}
	}
}

// fetchSets reads the sets of the named events of an environment's side that are not read yet,
// each once, and finds the file that declares each event's message.
func (s *side) fetchSets(ids []string) {
	if s.fetch == nil {
		return
	}
	read := map[string]*rawSet{}
	msgs := map[*rawSet]map[string]string{}
	for _, id := range ids {
		e := s.events[id]
		if e == nil || e.raw != nil || e.sha == "" || e.bad != nil {
			continue
		}
		bad := func(err error) {
			e.bad = diag.List{{Message: err.Error(), Severity: diag.Error, Rule: RuleBaselineInvalid}}
		}
		rs := read[e.sha]
		if rs == nil {
			data, err := s.fetch(e.sha)
			if err != nil {
				bad(err)
				continue
			}
			if rs, err = scanSet(data); err != nil {
				bad(err)
				continue
			}
			read[e.sha] = rs
		}
		if msgs[rs] == nil {
			m, err := rs.messages()
			if err != nil {
				bad(err)
				continue
			}
			msgs[rs] = m
		}
		if p, ok := msgs[rs][e.msgName]; ok {
			e.raw, e.path = rs, p
		}
		if e.raw == nil && e.bad == nil {
			bad(fmt.Errorf("index.json names %s for %s but its set has no such message", e.msgName, id))
		}
	}
}

// messages maps the full name of every top-level message of the set to its file's path.
func (rs *rawSet) messages() (map[string]string, error) {
	out := map[string]string{}
	for _, p := range rs.order {
		fdp, err := rs.decode(p)
		if err != nil {
			return nil, err
		}
		for _, m := range fdp.GetMessageType() {
			full := m.GetName()
			if pkg := fdp.GetPackage(); pkg != "" {
				full = pkg + "." + full
			}
			out[full] = p
		}
	}
	return out, nil
}
