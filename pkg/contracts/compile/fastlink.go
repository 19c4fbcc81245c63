package compile

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/bufbuild/protocompile/ast"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/options"
	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"
	"github.com/bufbuild/protocompile/sourceinfo"
	"google.golang.org/protobuf/proto"
)

// fastLinked is one file linkDirect compiled: the file, its deterministic encoding with source
// info (the file's descriptor keeps none), or ok false when it must go through protocompile.
type fastLinked struct {
	file linker.File
	enc  []byte
	ok   bool
}

// linkDirect compiles each of srcs whose imports are all among shared, on every core, with
// protocompile's own steps in protocompile's order (parse, descriptor from the AST, link,
// options, option checks, source info) but without its scheduler, and without the index of
// source locations it builds from the source info and CompileEach drops right after encoding
// (a fifth of linking 10,000 contracts). A file with any problem, or an import that is not
// shared, comes back not ok: the caller compiles it with protocompile, whose findings are then
// exactly those of a compilation of the whole repository. The bytes are protocompile's: the
// same descriptor proto, marshalled the same way (TestLinkDirectSameBytes).
//
// Each worker links into its own symbol table, started again every chunk files and after a
// failure, so memory holds a chunk's names per core; a name two files declare is not reported
// here (CompileEach does not report it across chunks either; lint checks names across files).
func linkDirect(srcs []fastSource, shared map[string]linker.File, chunk int) []fastLinked {
	out := make([]fastLinked, len(srcs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(srcs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sym *linker.Symbols
			used := 0
			for i := range next {
				if sym == nil || used >= chunk {
					sym, used = &linker.Symbols{}, 0
				}
				used++
				out[i] = linkOne(srcs[i], shared, sym)
				if !out[i].ok {
					sym = nil // it may hold half of the failed file's names
				}
			}
		}()
	}
	for i := range srcs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// fastSource is a file to compile: its import path and source, and the source parsed when the
// caller has it (protogen.Output.Parsed).
type fastSource struct {
	path   string
	src    []byte
	parsed *ast.FileNode
}

func linkOne(s fastSource, shared map[string]linker.File, sym *linker.Symbols) fastLinked {
	// Errors stop at the first; warnings (unused imports) are not findings evctl reports.
	h := reporter.NewHandler(reporter.NewReporter(func(err reporter.ErrorWithPos) error { return err }, nil))
	node := s.parsed
	if node == nil || node.Name() != s.path {
		var err error
		if node, err = parser.Parse(s.path, bytes.NewReader(s.src), h); err != nil {
			return fastLinked{}
		}
	}
	parsed, err := parser.ResultFromAST(node, true, h)
	if err != nil || h.Error() != nil {
		return fastLinked{}
	}
	fdp := parsed.FileDescriptorProto()
	deps := make(linker.Files, 0, len(fdp.Dependency))
	for _, d := range fdp.Dependency {
		f, ok := shared[d]
		if !ok || d == s.path {
			return fastLinked{}
		}
		deps = append(deps, f)
	}
	linked, err := linker.Link(parsed, deps, sym, h)
	if err != nil {
		return fastLinked{}
	}
	optsIndex, err := options.InterpretOptions(linked, h)
	if err != nil {
		return fastLinked{}
	}
	if err := linked.ValidateOptions(h, sym); err != nil || h.Error() != nil {
		return fastLinked{}
	}
	fdp.SourceCodeInfo = sourceinfo.GenerateSourceInfo(node, optsIndex)
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(fdp)
	if err != nil {
		return fastLinked{}
	}
	// As encodeFiles leaves a file protocompile compiled: no source info, an empty index.
	fdp.SourceCodeInfo = nil
	linked.PopulateSourceCodeInfo()
	linked.RemoveAST()
	return fastLinked{file: linked, enc: enc, ok: true}
}
