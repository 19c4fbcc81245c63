package breaking

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/diag"
)

// preparePair builds the trees of a changed event. buf matches files by path and messages by
// full name: a baseline whose message or package was renamed would match nothing and hide every
// field change, so evctl reports the rename itself and renames the baseline to the current names
// before handing it to buf.
func preparePair(p *config.Project, base *Baseline, c, b *event, r *EventResult) *pair {
	pr := &pair{ev: c.ev, c: c, res: r}
	if b.msg.FullName() != c.msg.FullName() {
		r.Findings = append(r.Findings, newFinding(c.id, "", RuleMessageRenamed, renamePos(p, c, b),
			fmt.Sprintf("the event's message was %s in %s and is now %s; consumers that decode it by name break", b.msg.FullName(), base.Name, c.msg.FullName())))
	}
	if b.msg.FullName() != c.msg.FullName() || b.file.Path() != c.file.Path() {
		if nf, nm, err := renameBaseline(b.file, b.msg, c.file.Path(), c.msg.FullName(), string(c.file.Package())); err == nil {
			cp := *b
			cp.file, cp.msg = nf, nm
			b = &cp
		}
	}
	pr.b = b
	pr.ct = newTree(c.msg, c.stage)
	pr.bt = newTree(b.msg, b.stage)
	return pr
}

func renamePos(p *config.Project, c, b *event) diag.Pos {
	if c.out.RawFile != "" {
		loc := c.file.SourceLocations().ByDescriptor(c.msg)
		if c.file.Package() != b.msg.ParentFile().Package() {
			for i := 0; i < c.file.SourceLocations().Len(); i++ {
				l := c.file.SourceLocations().Get(i)
				if len(l.Path) == 1 && l.Path[0] == 2 { // FileDescriptorProto.package
					loc = l
				}
			}
		}
		return rawPos(c, loc.StartLine+1, loc.StartColumn+1)
	}
	if c.file.Package() != b.msg.ParentFile().Package() {
		return p.Pos("naming.proto_package")
	}
	return c.ev.Pos("name")
}

// renameBaseline rewrites the baseline's file path, package and event message name to the
// current ones, fixing every type reference in the file.
func renameBaseline(f protoreflect.FileDescriptor, m protoreflect.MessageDescriptor, newPath string, newMsg protoreflect.FullName, newPkg string) (protoreflect.FileDescriptor, protoreflect.MessageDescriptor, error) {
	fdp := protodesc.ToFileDescriptorProto(f)
	oldPkg := fdp.GetPackage()
	oldMsg := string(m.FullName())
	fdp.Name = proto.String(newPath)
	if newPkg == "" {
		fdp.Package = nil
	} else {
		fdp.Package = proto.String(newPkg)
	}
	for _, mp := range fdp.MessageType {
		if mp.GetName() == string(m.Name()) {
			mp.Name = proto.String(string(newMsg.Name()))
		}
	}
	pkgPrefix := "."
	if newPkg != "" {
		pkgPrefix = "." + newPkg + "."
	}
	fix := func(s *string) *string {
		if s == nil {
			return nil
		}
		tn := *s
		switch {
		case tn == "."+oldMsg || strings.HasPrefix(tn, "."+oldMsg+"."):
			tn = "." + string(newMsg) + tn[len(oldMsg)+1:]
		case oldPkg != "" && strings.HasPrefix(tn, "."+oldPkg+"."):
			tn = pkgPrefix + tn[len(oldPkg)+2:]
		}
		return proto.String(tn)
	}
	var walk func(ms []*descriptorpb.DescriptorProto)
	walk = func(ms []*descriptorpb.DescriptorProto) {
		for _, mp := range ms {
			for _, fp := range mp.Field {
				fp.TypeName = fix(fp.TypeName)
			}
			for _, fp := range mp.Extension {
				fp.TypeName, fp.Extendee = fix(fp.TypeName), fix(fp.Extendee)
			}
			walk(mp.NestedType)
		}
	}
	walk(fdp.MessageType)
	for _, fp := range fdp.Extension {
		fp.TypeName, fp.Extendee = fix(fp.TypeName), fix(fp.Extendee)
	}
	nf, err := protodesc.NewFile(fdp, registryOf(f))
	if err != nil {
		return nil, nil, fmt.Errorf("breaking: rename baseline %s: %w", f.Path(), err)
	}
	nm := nf.Messages().ByName(newMsg.Name())
	if nm == nil {
		return nil, nil, fmt.Errorf("breaking: rename baseline %s: message %s missing", f.Path(), newMsg)
	}
	return nf, nm, nil
}

// marshalSet writes the files and their imports as one FileDescriptorSet, each file after its
// imports. Source info is kept when asked (buf reports positions in the current side only).
func marshalSet(files []protoreflect.FileDescriptor, withSource bool) ([]byte, error) {
	set := &descriptorpb.FileDescriptorSet{}
	for _, f := range closure(files) {
		fdp := protodesc.ToFileDescriptorProto(f)
		if !withSource {
			fdp.SourceCodeInfo = nil
		}
		set.File = append(set.File, fdp)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("breaking: marshal descriptor set: %w", err)
	}
	return b, nil
}
