package compile

import (
	"context"

	"github.com/bufbuild/protocompile"

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
