package descstore

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Files builds the descriptors of serialised FileDescriptorSets, one event's set at a time,
// sharing the files the sets have in common: every event's set carries its own copy of the
// well-known types, protovalidate's rules and evctl's options, and a reader of 10,000 sets that
// built each copy apart held 10,000 copies of them (the gateway peaked at 10.7 GB). A file is
// shared when its bytes and those of everything it imports are the same (a Merkle key), so a
// set never gets a file built against other imports than its own. It is safe for concurrent use.
//
// Only imports are kept (an event's own file, the last of its set, is built each time): what is
// kept is bounded by the distinct versions of shared files, not by the events. The descriptors
// carry no source info (comments and positions): readers and writers of events do not need it,
// and it is most of what a descriptor weighs.
type Files struct {
	mu     sync.Mutex
	shared map[[32]byte]protoreflect.FileDescriptor
}

// NewFiles returns an empty cache.
func NewFiles() *Files { return &Files{shared: map[[32]byte]protoreflect.FileDescriptor{}} }

// Message builds set (a serialised FileDescriptorSet, each file after its imports, as evctl
// writes them) and returns the message named message.
func (c *Files) Message(set []byte, message string) (protoreflect.MessageDescriptor, error) {
	raws, err := splitSet(set)
	if err != nil {
		return nil, err
	}
	local := &protoregistry.Files{}
	keys := map[string][32]byte{} // path -> Merkle key, in this set
	for i, raw := range raws {
		// The name and imports are read off the wire: a shared file is not decoded again.
		name, deps, err := fileHead(raw)
		if err != nil {
			return nil, fmt.Errorf("descstore: file %d of the set: %w", i+1, err)
		}
		h := sha256.New()
		h.Write(raw)
		for _, dep := range deps {
			k, ok := keys[dep]
			if !ok {
				// Not each file after its imports (evctl writes them so): built apart, unshared.
				return messageApart(set, message)
			}
			h.Write(k[:])
		}
		var key [32]byte
		copy(key[:], h.Sum(nil))
		keys[name] = key
		last := i == len(raws)-1
		var fd protoreflect.FileDescriptor
		if !last {
			c.mu.Lock()
			fd = c.shared[key]
			c.mu.Unlock()
		}
		if fd == nil {
			fdp := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(raw, fdp); err != nil {
				return nil, fmt.Errorf("descstore: file %d of the set: %w", i+1, err)
			}
			fdp.SourceCodeInfo = nil
			if fd, err = protodesc.NewFile(fdp, local); err != nil {
				return nil, fmt.Errorf("descstore: %s: %w", name, err)
			}
			if !last {
				c.mu.Lock()
				if prev, ok := c.shared[key]; ok {
					fd = prev // another set built it meanwhile: keep one
				} else {
					c.shared[key] = fd
				}
				c.mu.Unlock()
			}
		}
		if err := local.RegisterFile(fd); err != nil {
			return nil, fmt.Errorf("descstore: %s: %w", name, err)
		}
	}
	d, err := local.FindDescriptorByName(protoreflect.FullName(message))
	if err != nil {
		return nil, fmt.Errorf("descstore: message %s: %w", message, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("descstore: %s is not a message", message)
	}
	return md, nil
}

// messageApart builds the set on its own, in whatever order its files come.
func messageApart(set []byte, message string) (protoreflect.MessageDescriptor, error) {
	fds := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(set, fds); err != nil {
		return nil, fmt.Errorf("descstore: set: %w", err)
	}
	for _, f := range fds.File {
		f.SourceCodeInfo = nil
	}
	files, err := protodesc.NewFiles(fds)
	if err != nil {
		return nil, fmt.Errorf("descstore: set: %w", err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(message))
	if err != nil {
		return nil, fmt.Errorf("descstore: message %s: %w", message, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("descstore: %s is not a message", message)
	}
	return md, nil
}

// Len is how many shared files are kept.
func (c *Files) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.shared)
}

// fileHead reads a serialised FileDescriptorProto's name (field 1) and imports (field 3).
func fileHead(b []byte) (name string, deps []string, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", nil, protowire.ParseError(n)
		}
		b = b[n:]
		if (num == 1 || num == 3) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", nil, protowire.ParseError(n)
			}
			if num == 1 {
				name = string(v)
			} else {
				deps = append(deps, string(v))
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", nil, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return name, deps, nil
}

// splitSet returns the serialised files of a FileDescriptorSet (its repeated field 1), without
// decoding them.
func splitSet(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("descstore: set: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("descstore: set: %w", protowire.ParseError(n))
			}
			out = append(out, v)
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, fmt.Errorf("descstore: set: %w", protowire.ParseError(n))
		}
		b = b[n:]
	}
	if len(out) == 0 {
		return nil, errors.New("descstore: set: no file")
	}
	return out, nil
}
