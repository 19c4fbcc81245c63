package compile

import (
	"context"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/protogen"
)

// CompileInChunks is Compile handing protocompile chunk files at a time (0: all at once), so
// tests can check that chunking changes nothing.
func CompileInChunks(ctx context.Context, root string, outs []*protogen.Output, chunk int) (*Result, diag.List) {
	return compileIn(ctx, root, outs, protocompile.SourceInfoStandard, chunk, false)
}

// CompileForSetInChunks is CompileForSet with the chunk size given.
func CompileForSetInChunks(ctx context.Context, root string, outs []*protogen.Output, chunk int) (*Result, diag.List) {
	return compileIn(ctx, root, outs, protocompile.SourceInfoStandard, chunk, true)
}

// LinkDirectCount is how many of outs linkDirect compiles once every import they name was
// compiled (by protocompile, as CompileEach's first chunks do), so tests know the direct path
// runs.
func LinkDirectCount(root string, outs []*protogen.Output, chunk int) int {
	shared := map[string]linker.File{}
	byPath := map[string]*protogen.Output{}
	for _, o := range outs {
		byPath[o.Path] = o
	}
	names := make([]string, len(outs))
	for i, o := range outs {
		names[i] = o.Path
	}
	files, _ := compileOnce(context.Background(), byPath, names, Resolver(root, byPath), protocompile.SourceInfoStandard, nil)
	var remember func(fd protoreflect.FileDescriptor)
	remember = func(fd protoreflect.FileDescriptor) {
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			lf, err := linker.NewFileRecursive(imps.Get(i).FileDescriptor)
			if err != nil {
				panic(err)
			}
			if _, own := byPath[lf.Path()]; !own {
				shared[lf.Path()] = lf
			}
			remember(lf)
		}
	}
	for _, f := range files {
		remember(f)
	}
	srcs := make([]fastSource, len(outs))
	for i, o := range outs {
		srcs[i] = fastSource{path: o.Path, src: o.Source}
	}
	n := 0
	for _, l := range linkDirect(srcs, shared, chunk) {
		if l.ok {
			n++
		}
	}
	return n
}
