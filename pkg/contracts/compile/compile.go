// Package compile turns effective contracts into descriptors with protocompile, resolving imports
// inside the repository's contracts/ folder plus the embedded well-known and evctl protos, and
// builds the deterministic FileDescriptorSet that `evctl build` writes and the descriptor store
// publishes. Compiler errors come back as diagnostics at the position the user wrote.
package compile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/contracts/protogen"
)

// Rule IDs for compiler findings.
const (
	RuleCompile       = "PROTO_COMPILE"
	RuleImportOutside = protogen.RuleImportOutside
)

// Result holds the compiled effective contracts.
type Result struct {
	// Files by event ID ("feed/video_played"); events that failed to compile are absent.
	Files map[string]linker.File
	// Messages by event ID: the event's message descriptor.
	Messages map[string]protoreflect.MessageDescriptor
	Outputs  map[string]*protogen.Output
	// Root is the repository root the contracts were compiled from.
	Root string
	// encoded, from CompileForSet, holds each file's deterministic encoding, source info
	// included, by path; the kept descriptors then carry no source info at all (no
	// SourceCodeInfo, no SourceLocations), so sets are made from these bytes (SetCache and
	// FileSet do).
	encoded map[string][]byte
}

// Compile compiles every output. root is the repository root (raw-proto imports resolve in
// root/contracts). Failures are diagnostics; the Result holds what compiled, with source info
// (comments and positions), which descriptor sets, exports and breaking checks carry.
func Compile(ctx context.Context, root string, outs []*protogen.Output) (*Result, diag.List) {
	return CompileChecked(ctx, root, outs, true)
}

// CompileChecked is Compile with source info optional. A caller that only checks the contracts
// (`evctl lint`) passes sourceInfo false: findings keep their positions, but for 1,200
// contracts it saves about a fifth of the time and 150 MB. Results without source info must
// not be published, exported or compared.
func CompileChecked(ctx context.Context, root string, outs []*protogen.Output, sourceInfo bool) (*Result, diag.List) {
	mode := protocompile.SourceInfoStandard
	if !sourceInfo {
		mode = protocompile.SourceInfoNone
	}
	return compileIn(ctx, root, outs, mode, chunkSize, false)
}

// CompileForSet is Compile for a caller that writes the whole descriptor set (`evctl build`, and
// `evctl lint` filling build's cache) and otherwise only checks: each chunk's files are encoded,
// source info included, as soon as they are compiled, and the source info is then dropped from
// the descriptors kept (as CompileChecked without source info keeps them), which is most of
// what a compiled file weighs: on 1,200 events build's peak memory goes from about 570 to 360 MB.
// The set comes from SetCache or FileSet, byte for byte as from Compile.
func CompileForSet(ctx context.Context, root string, outs []*protogen.Output) (*Result, diag.List) {
	return compileIn(ctx, root, outs, protocompile.SourceInfoStandard, chunkSize, true)
}

// compileIn is CompileChecked in chunks of chunk files (0: in one piece); encode keeps each
// file's encoding and drops the source info from its descriptor (CompileForSet).
func compileIn(ctx context.Context, root string, outs []*protogen.Output, mode protocompile.SourceInfoMode, chunk int, encode bool) (*Result, diag.List) {
	var encoded map[string][]byte
	if encode {
		encoded = map[string][]byte{}
	}
	byPath := make(map[string]*protogen.Output, len(outs))
	names := make([]string, 0, len(outs))
	for _, o := range outs {
		byPath[o.Path] = o
		names = append(names, o.Path)
	}
	sort.Strings(names)
	var (
		files []linker.File
		diags diag.List
	)
	if chunk > 0 && len(names) > chunk {
		files, diags = compileChunked(ctx, root, byPath, names, mode, chunk, encoded)
	}
	if files == nil || diags.HasErrors() {
		// Compiled in chunks, a file that fails in one chunk is compiled (and reported) again
		// in the next that imports it, and a half-linked one can clash with itself. Findings
		// must be exact, so an unsuccessful compilation is done again in one piece.
		files, diags = compileOnce(ctx, byPath, names, Resolver(root, byPath), mode, nil)
		if encode {
			encoded = map[string][]byte{}
			if err := encodeFiles(files, encoded); err != nil {
				diags.Add(diag.Errorf(diag.Pos{File: contract.Dir, Line: 1, Col: 1}, RuleCompile, "%v", err))
			}
		}
	}
	res := &Result{Files: map[string]linker.File{}, Messages: map[string]protoreflect.MessageDescriptor{}, Outputs: map[string]*protogen.Output{}, Root: root, encoded: encoded}
	for i, f := range files {
		if f == nil {
			continue
		}
		o := byPath[names[i]]
		md := f.FindDescriptorByName(protoreflect.FullName(o.Message))
		m, ok := md.(protoreflect.MessageDescriptor)
		if !ok {
			diags.Add(diag.Errorf(diag.Pos{File: o.Path, Line: 1, Col: 1}, RuleCompile, "message %s not found after compiling", o.Message))
			continue
		}
		res.Files[o.Event] = f
		res.Messages[o.Event] = m
		res.Outputs[o.Event] = o
	}
	return res, diags
}

// chunkSize is how many files compileChunked hands protocompile at once. protocompile parses
// every file it is given before linking most of them, so with 1,200 files every AST is alive at
// the same time (a quarter of `evctl lint`'s peak memory); in chunks only one chunk's are. A
// chunk keeps every core busy with 16 files or more.
var chunkSize = max(64, 16*runtime.GOMAXPROCS(0))

// compileChunked compiles names chunk at a time with one symbol table, so collisions across
// chunks are still found, and a resolver that hands later chunks the files earlier ones
// compiled (their imports among them), so each file is compiled once and shared files keep one
// identity. It returns the files in the order of names.
func compileChunked(ctx context.Context, root string, byPath map[string]*protogen.Output, names []string, mode protocompile.SourceInfoMode, chunk int, encoded map[string][]byte) ([]linker.File, diag.List) {
	var (
		mu   sync.Mutex
		done = map[string]linker.File{}
	)
	var remember func(f linker.File)
	remember = func(f linker.File) {
		if _, ok := done[f.Path()]; ok {
			return
		}
		done[f.Path()] = f
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			if lf, ok := imps.Get(i).FileDescriptor.(linker.File); ok {
				remember(lf)
			}
		}
	}
	base := Resolver(root, byPath)
	resolver := protocompile.ResolverFunc(func(p string) (protocompile.SearchResult, error) {
		mu.Lock()
		f, ok := done[p]
		mu.Unlock()
		if ok {
			return protocompile.SearchResult{Desc: f}, nil
		}
		return base.FindFileByPath(p)
	})
	sym := &linker.Symbols{}
	files := make([]linker.File, 0, len(names))
	var diags diag.List
	for start := 0; start < len(names); start += chunk {
		fs, ds := compileOnce(ctx, byPath, names[start:min(start+chunk, len(names))], resolver, mode, sym)
		if encoded != nil && !ds.HasErrors() {
			if err := encodeFiles(fs, encoded); err != nil {
				ds.Add(diag.Errorf(diag.Pos{File: contract.Dir, Line: 1, Col: 1}, RuleCompile, "%v", err))
			}
		}
		diags = append(diags, ds...)
		if ds.HasErrors() {
			break // the caller compiles again in one piece for exact findings
		}
		mu.Lock()
		for _, f := range fs {
			if f != nil {
				remember(f)
			}
		}
		mu.Unlock()
		files = append(files, fs...)
	}
	for len(files) < len(names) {
		files = append(files, nil)
	}
	return files, diags
}

// encodeFiles keeps the deterministic encoding of every file of files and of their imports that
// encoded does not hold yet, then drops the source info from the file's descriptor proto.
func encodeFiles(files []linker.File, encoded map[string][]byte) error {
	var visit func(f protoreflect.FileDescriptor) error
	visit = func(f protoreflect.FileDescriptor) error {
		if _, ok := encoded[f.Path()]; ok {
			return nil
		}
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			if err := visit(imps.Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(fileProto(f))
		if err != nil {
			return fmt.Errorf("compile: marshal %s: %w", f.Path(), err)
		}
		encoded[f.Path()] = b
		if r, ok := f.(linker.Result); ok {
			// Drop the source info and the index protocompile built of it when linking.
			r.FileDescriptorProto().SourceCodeInfo = nil
			r.PopulateSourceCodeInfo()
		}
		return nil
	}
	for _, f := range files {
		if f != nil {
			if err := visit(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// compileOnce compiles names in one protocompile run; sym, when not nil, is the symbol table
// shared with other runs. Files that did not compile are nil.
func compileOnce(ctx context.Context, byPath map[string]*protogen.Output, names []string, resolver protocompile.Resolver, mode protocompile.SourceInfoMode, sym *linker.Symbols) ([]linker.File, diag.List) {
	var diags diag.List
	rep := reporter.NewReporter(func(err reporter.ErrorWithPos) error {
		diags.Add(toDiag(byPath, err))
		return nil
	}, nil)
	c := protocompile.Compiler{
		Resolver:       resolver,
		SourceInfoMode: mode,
		Reporter:       rep,
		Symbols:        sym,
	}
	files, err := c.Compile(ctx, names...)
	var ewp reporter.ErrorWithPos
	switch {
	case err == nil, errors.Is(err, reporter.ErrInvalidSource):
		// every problem went through the reporter
	case errors.As(err, &ewp):
		// an import that cannot be resolved comes back here, not through the reporter
		diags.Add(toDiag(byPath, ewp))
	case len(diags) == 0:
		diags.Add(diag.Errorf(diag.Pos{File: contract.Dir, Line: 1, Col: 1}, RuleCompile, "%v", err))
	}
	out := make([]linker.File, len(names))
	for i := range min(len(files), len(names)) {
		out[i] = files[i]
	}
	return out, diags
}

// toDiag maps a compiler error to where the user can fix it: the raw .proto line on the upload
// path, the contract YAML on the form path (an error there is a lint gap, so the message names
// the generated file too).
func toDiag(byPath map[string]*protogen.Output, err reporter.ErrorWithPos) diag.Diagnostic {
	pos := err.GetPosition()
	msg := err.Unwrap().Error()
	rule := RuleCompile
	if strings.Contains(msg, "outside the repository") || strings.Contains(msg, "leaves the repository") {
		rule = RuleImportOutside
	}
	o, ok := byPath[pos.Filename]
	switch {
	case !ok:
		return diag.Errorf(diag.Pos{File: path.Join(contract.Dir, pos.Filename), Line: pos.Line, Col: pos.Col}, rule, "%s", msg)
	case o.RawFile != "":
		line := 0
		if pos.Line > 0 && pos.Line < len(o.RawLine) {
			line = o.RawLine[pos.Line]
		}
		if line == 0 {
			return diag.Errorf(diag.Pos{File: o.RawFile, Line: 1, Col: 1}, rule, "in evctl's injected code: %s", msg)
		}
		return diag.Errorf(diag.Pos{File: o.RawFile, Line: line, Col: pos.Col}, rule, "%s", msg)
	}
	return diag.Errorf(diag.Pos{File: path.Join(contract.Dir, strings.TrimSuffix(o.Path, ".proto")+".yaml"), Line: 1, Col: 1}, rule,
		"generated %s:%d:%d: %s", o.Path, pos.Line, pos.Col, msg)
}

// Resolver resolves effective contracts first, then evctl's embedded protos, the well-known types,
// and last .proto files inside root/contracts. An import that leaves the repository is refused.
func Resolver(root string, byPath map[string]*protogen.Output) protocompile.Resolver {
	base := filepath.Join(root, contract.Dir)
	// protovalidate's rules come compiled with its Go module; there is no source to embed.
	validate := protocompile.ResolverFunc(func(p string) (protocompile.SearchResult, error) {
		if p == evoptions.ValidateFile {
			return protocompile.SearchResult{Desc: validatepb.File_buf_validate_validate_proto}, nil
		}
		return protocompile.SearchResult{}, os.ErrNotExist
	})
	return protocompile.CompositeResolver{validate, protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(p string) (io.ReadCloser, error) {
			if o, ok := byPath[p]; ok {
				return io.NopCloser(strings.NewReader(string(o.Source))), nil
			}
			if src, ok := evoptions.Source(p); ok {
				return io.NopCloser(strings.NewReader(string(src))), nil
			}
			if strings.HasPrefix(p, "google/protobuf/") {
				return nil, os.ErrNotExist // left to the standard imports
			}
			if protogen.ImportOutside(p) {
				return nil, fmt.Errorf("import %q is outside the repository: imports are relative to %s/", p, contract.Dir)
			}
			return contract.OpenInside(root, filepath.Join(base, filepath.FromSlash(p)))
		},
	})}
}

// FileSet returns the deterministic FileDescriptorSet of the given events (all when ids is nil):
// each file after its imports, files in import-path order, serialised deterministically, so the
// same repository gives the same bytes whatever the file order or machine. The set shares the
// compiled files' descriptor protos: marshal or read it, never modify it.
func FileSet(res *Result, ids []string) *descriptorpb.FileDescriptorSet {
	files := setFiles(res, ids)
	set := &descriptorpb.FileDescriptorSet{File: make([]*descriptorpb.FileDescriptorProto, 0, len(files))}
	for _, f := range files {
		if b, ok := res.encoded[f.Path()]; ok {
			// CompileForSet dropped the descriptor's source info; its encoding has it.
			fdp := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(b, fdp); err == nil {
				set.File = append(set.File, fdp)
				continue
			}
		}
		set.File = append(set.File, fileProto(f))
	}
	return set
}

// setFiles lists the files of the set of ids in set order: the events' files sorted by path,
// each after its imports (depth first), each once.
func setFiles(res *Result, ids []string) []protoreflect.FileDescriptor {
	if ids == nil {
		for id := range res.Files {
			ids = append(ids, id)
		}
	}
	files := make([]protoreflect.FileDescriptor, 0, len(ids))
	for _, id := range ids {
		if f, ok := res.Files[id]; ok {
			files = append(files, f)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path() < files[j].Path() })
	var out []protoreflect.FileDescriptor
	seen := map[string]bool{}
	var visit func(f protoreflect.FileDescriptor)
	visit = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			visit(imps.Get(i).FileDescriptor)
		}
		out = append(out, f)
	}
	for _, f := range files {
		visit(f)
	}
	return out
}

// fileProto returns the descriptor proto of a compiled file. Files protocompile built from source
// already hold theirs, with source info, so they are shared rather than rebuilt with protodesc
// (the same bytes; for 200 contracts 3 MB allocated instead of 20 MB). The set's files are
// therefore read-only.
func fileProto(f protoreflect.FileDescriptor) *descriptorpb.FileDescriptorProto {
	if r, ok := f.(linker.Result); ok {
		return r.FileDescriptorProto()
	}
	return protodesc.ToFileDescriptorProto(f)
}

// Marshal serialises a set deterministically.
func Marshal(set *descriptorpb.FileDescriptorSet) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("compile: marshal descriptor set: %w", err)
	}
	return b, nil
}

// SHA256 is the hex content hash used to address descriptor sets.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
