package envplan

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
)

// take is the lint.CompiledFunc of PrepareCached: lint's incremental check hands over each
// chunk of events it compiled, and the events whose files the plan cache does not hold are
// planned from that compilation, as compileFiles would plan them after compiling them again
// (before this, `evctl apply` from empty compiled the repository twice). A chunk that cannot
// be planned here is left alone: its files stay to compile, so nothing is lost but time.
func (pr *preparer) take(evs []*contract.Event, res *compile.Result) error {
	if pr.dirtySet == nil {
		pr.dirtySet = make(map[string]bool, len(pr.dirty))
		for _, f := range pr.dirty {
			pr.dirtySet[f] = true
		}
		pr.handed, pr.handedFull = map[string]*cacheEntry{}, map[string][]sink.Desired{}
	}
	entries := map[string]*cacheEntry{}
	var chunk []*contract.Event
	for _, ev := range evs {
		if !pr.dirtySet[ev.File] || pr.handed[ev.File] != nil || entries[ev.File] != nil {
			continue
		}
		b, err := stub(ev)
		if err != nil {
			return nil
		}
		e := &cacheEntry{ID: ev.ID(), Hosted: pr.cfg.Hosts(ev.Stage), Stub: b}
		entries[ev.File] = e
		if e.Hosted {
			chunk = append(chunk, ev)
		}
	}
	if len(entries) == 0 {
		return nil
	}
	full := map[string][]sink.Desired{}
	if len(chunk) > 0 {
		src, err := withSourceInfo(res, chunk)
		if err != nil {
			return nil
		}
		if err := pr.desireCompiled(src, chunk, entries, full, false); err != nil {
			return nil
		}
	}
	for f, e := range entries {
		pr.handed[f] = e
	}
	for id, ds := range full {
		pr.handedFull[id] = ds
	}
	return nil
}

// withSourceInfo is res with the messages of evs rebuilt, with their comments, from the
// encodings lint's compilation kept: compile.Each drops the source info from the descriptors
// it keeps, and the kinds that make columns read each field's description from it
// (typemap.Description), as they do from compile.Compile's descriptors. The encodings are the
// files as compiled, so the messages are the same but for the source info they carry; the
// copy keeps res's encodings, from which descriptor sets are made.
func withSourceInfo(res *compile.Result, evs []*contract.Event) (*compile.Result, error) {
	reg := &protoregistry.Files{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor) error
	add = func(fd protoreflect.FileDescriptor) error {
		if seen[fd.Path()] {
			return nil
		}
		seen[fd.Path()] = true
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			if err := add(imps.Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		return reg.RegisterFile(fd)
	}
	for _, ev := range evs {
		f, ok := res.Files[ev.ID()]
		if !ok {
			return nil, fmt.Errorf("envplan: %s was not compiled", ev.ID())
		}
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			if err := add(imps.Get(i).FileDescriptor); err != nil {
				return nil, fmt.Errorf("envplan: %w", err)
			}
		}
	}
	out := *res
	out.Messages = make(map[string]protoreflect.MessageDescriptor, len(evs))
	for _, ev := range evs {
		id := ev.ID()
		o := res.Outputs[id]
		enc, ok := res.Encoding(o.Path)
		if !ok {
			return nil, fmt.Errorf("envplan: no encoding of %s", o.Path)
		}
		fdp := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(enc, fdp); err != nil {
			return nil, fmt.Errorf("envplan: %s: %w", o.Path, err)
		}
		fd, err := protodesc.NewFile(fdp, reg)
		if err != nil {
			return nil, fmt.Errorf("envplan: %s: %w", o.Path, err)
		}
		md := findMessage(fd.Messages(), protoreflect.FullName(o.Message))
		if md == nil {
			return nil, fmt.Errorf("envplan: %s: no message %s", o.Path, o.Message)
		}
		out.Messages[id] = md
	}
	return &out, nil
}

// findMessage finds a message by full name among ms and their nested messages.
func findMessage(ms protoreflect.MessageDescriptors, name protoreflect.FullName) protoreflect.MessageDescriptor {
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		if m.FullName() == name {
			return m
		}
		if len(name) > len(m.FullName()) && name[:len(m.FullName())] == m.FullName() {
			if got := findMessage(m.Messages(), name); got != nil {
				return got
			}
		}
	}
	return nil
}
