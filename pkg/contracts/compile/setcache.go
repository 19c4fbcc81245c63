package compile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// SetCache serialises descriptor sets of a few events at a time (`evctl plan` builds one per
// event) marshalling each file once: the files every set imports (evctl's options, the
// well-known types, protovalidate's rules) are most of each set's bytes, and rebuilding and
// marshalling them for every event was most of the cost of planning. It is safe for concurrent
// use; its bytes are read-only.
//
// A FileDescriptorSet has one field, the repeated file (number 1), so its deterministic encoding
// is each file's deterministic encoding behind that field's tag and length, in order: Marshal
// gives exactly the bytes of compile.Marshal(compile.FileSet(res, ids)) (TestSetCacheSameBytes).
type SetCache struct {
	res   *Result
	mu    sync.Mutex
	files map[string]*cachedFile
}

// cachedFile is one file's encoding, computed once by whichever caller needs it first.
type cachedFile struct {
	once sync.Once
	b    []byte
	err  error
}

// NewSetCache returns an empty cache over res.
func NewSetCache(res *Result) *SetCache {
	return &SetCache{res: res, files: map[string]*cachedFile{}}
}

// Marshal returns the deterministic serialised FileDescriptorSet of the events ids (all when
// nil) and its SHA256, byte for byte what Marshal(FileSet(res, ids)) gives.
func (c *SetCache) Marshal(ids []string) ([]byte, string, error) {
	files := setFiles(c.res, ids)
	parts := make([][]byte, len(files))
	size := 0
	for i, f := range files {
		b, err := c.file(f)
		if err != nil {
			return nil, "", err
		}
		parts[i] = b
		size += protowire.SizeTag(1) + protowire.SizeBytes(len(b))
	}
	out := make([]byte, 0, size)
	for _, b := range parts {
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, b)
	}
	sum := sha256.Sum256(out)
	return out, hex.EncodeToString(sum[:]), nil
}

// file returns f's deterministic encoding, marshalling it on first use. Files are keyed by
// path, which is unique within one compile result.
func (c *SetCache) file(f protoreflect.FileDescriptor) ([]byte, error) {
	c.mu.Lock()
	e, ok := c.files[f.Path()]
	if !ok {
		e = &cachedFile{}
		c.files[f.Path()] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		if b, ok := c.res.encoded[f.Path()]; ok {
			e.b = b // CompileForSet encoded it while compiling
			return
		}
		e.b, e.err = proto.MarshalOptions{Deterministic: true}.Marshal(fileProto(f))
		if e.err != nil {
			e.err = fmt.Errorf("compile: marshal %s: %w", f.Path(), e.err)
		}
	})
	return e.b, e.err
}
