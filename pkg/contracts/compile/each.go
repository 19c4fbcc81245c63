package compile

import (
	"context"
	"sort"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/protogen"
)

// CompileEach compiles outs chunk files at a time (0: the default chunk size) and hands each
// chunk's Result to each, then lets it go: a caller that stores what it needs of every chunk
// (lint's incremental cache keeps each file's encoding) holds one chunk's descriptors at a time,
// not the repository's. Files that are not among outs (evctl's options, the well-known types,
// protovalidate's rules, the repository's shared .proto files) are compiled once and kept for
// the later chunks, so they keep one identity and one encoding.
//
// Each Result is as CompileForSet's for those outputs: Encoding gives every file's deterministic
// encoding with source info; the descriptors keep none. Unlike CompileForSet, chunks share no
// symbol table: a name declared by two effective contracts in different chunks is not reported
// (the caller checks declared names across files itself). each returning an error stops the
// compilation with that error.
func CompileEach(ctx context.Context, root string, outs []*protogen.Output, chunk int, each func(*Result, diag.List) error) error {
	return NewEach(root).Compile(ctx, outs, chunk, each)
}

// Each is CompileEach over several calls: the files the calls share (evctl's options, the
// well-known types, protovalidate's rules, the repository's shared .proto files) are compiled
// by the first that needs them and kept for the later ones, so a caller that hands the
// contracts over in batches (lint loads 512 events at a time) links every batch directly
// against them. Not safe for concurrent use.
type Each struct {
	root    string
	shared  map[string]linker.File
	encoded map[string][]byte // the shared files' encodings, and a chunk's while it is handed over
}

// NewEach returns an Each for the repository at root.
func NewEach(root string) *Each {
	return &Each{root: root, shared: map[string]linker.File{}, encoded: map[string][]byte{}}
}

// Compile is CompileEach with what earlier calls compiled.
func (c *Each) Compile(ctx context.Context, outs []*protogen.Output, chunk int, each func(*Result, diag.List) error) error {
	root, shared, encoded := c.root, c.shared, c.encoded
	if chunk <= 0 {
		chunk = chunkSize
	}
	byPath := make(map[string]*protogen.Output, len(outs))
	names := make([]string, 0, len(outs))
	for _, o := range outs {
		byPath[o.Path] = o
		names = append(names, o.Path)
		// A file an earlier call shared is compiled from this call's source now.
		delete(shared, o.Path)
		delete(encoded, o.Path)
	}
	sort.Strings(names)
	// Imports protocompile resolved from descriptors (the well-known types, protovalidate's
	// rules) are wrapped as it wraps them, once, so that later chunks link against them too.
	var remember func(fd protoreflect.FileDescriptor)
	remember = func(fd protoreflect.FileDescriptor) {
		if _, ok := shared[fd.Path()]; ok {
			return
		}
		f, err := linker.NewFileRecursive(fd)
		if err != nil {
			return
		}
		if _, ok := byPath[f.Path()]; !ok {
			shared[f.Path()] = f
		}
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			remember(imps.Get(i).FileDescriptor)
		}
	}
	base := Resolver(root, byPath)
	resolver := protocompile.ResolverFunc(func(p string) (protocompile.SearchResult, error) {
		if f, ok := shared[p]; ok {
			return protocompile.SearchResult{Desc: f}, nil
		}
		return base.FindFileByPath(p)
	})
	for start := 0; start < len(names); start += chunk {
		part := names[start:min(start+chunk, len(names))]
		// Files that import only what earlier chunks compiled are linked directly on every
		// core; the others (the first chunk's, and any with a problem) go through protocompile.
		files := make([]linker.File, len(part))
		var slow []string
		var slowAt []int
		if len(shared) > 0 {
			srcs := make([]fastSource, len(part))
			for i, p := range part {
				srcs[i] = fastSource{path: p, src: byPath[p].Source, parsed: byPath[p].Parsed}
			}
			for i, l := range linkDirect(srcs, shared, chunk) {
				if l.ok {
					files[i] = l.file
					encoded[part[i]] = l.enc
				} else {
					slow, slowAt = append(slow, part[i]), append(slowAt, i)
				}
			}
		} else {
			slow = part
			for i := range part {
				slowAt = append(slowAt, i)
			}
		}
		var diags diag.List
		if len(slow) > 0 {
			var compiled []linker.File
			compiled, diags = compileOnce(ctx, byPath, slow, resolver, protocompile.SourceInfoStandard, nil)
			if err := encodeFiles(compiled, encoded); err != nil {
				diags.Add(diag.Errorf(diag.Pos{File: contract.Dir, Line: 1, Col: 1}, RuleCompile, "%v", err))
			}
			for j, f := range compiled {
				files[slowAt[j]] = f
			}
		}
		res := &Result{Files: map[string]linker.File{}, Messages: map[string]protoreflect.MessageDescriptor{}, Outputs: map[string]*protogen.Output{}, Root: root, encoded: encoded}
		for i, f := range files {
			if f == nil {
				continue
			}
			remember(f)
			o := byPath[part[i]]
			md, ok := f.FindDescriptorByName(protoreflect.FullName(o.Message)).(protoreflect.MessageDescriptor)
			if !ok {
				diags.Add(diag.Errorf(diag.Pos{File: o.Path, Line: 1, Col: 1}, RuleCompile, "message %s not found after compiling", o.Message))
				continue
			}
			res.Files[o.Event] = f
			res.Messages[o.Event] = md
			res.Outputs[o.Event] = o
		}
		if err := each(res, diags); err != nil {
			return err
		}
		// The chunk's own files go; an effective contract another one imports is compiled
		// again where it is needed, so nothing of a chunk outlives it but the shared files.
		for _, p := range part {
			delete(encoded, p)
		}
		for p := range encoded {
			if _, ok := shared[p]; !ok {
				delete(encoded, p)
			}
		}
	}
	return nil
}

// Encoding returns the deterministic encoding, source info included, that CompileForSet or
// CompileEach kept for the file at path (an effective contract or one of its imports).
func (r *Result) Encoding(path string) ([]byte, bool) {
	b, ok := r.encoded[path]
	return b, ok
}
