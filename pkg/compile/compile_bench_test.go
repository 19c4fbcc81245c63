package compile_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/compile"
	"github.com/evctl/evctl/pkg/lint"
	"github.com/evctl/evctl/pkg/protogen"
	"github.com/evctl/evctl/pkg/workspace"
)

// benchEvents is the size of the synthetic repository; scripts/bench.sh measures 1,200 end to end.
const benchEvents = 200

func benchOutputs(b *testing.B) (string, []*protogen.Output) {
	b.Helper()
	dir := b.TempDir()
	ctx := context.Background()
	if _, err := synth.Generate(ctx, dir, synth.Options{N: benchEvents, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir)
	if err != nil {
		b.Fatal(err)
	}
	rep := lint.Check(ctx, ws, lint.Options{SkipGenFresh: true})
	return dir, rep.Outputs
}

// BenchmarkCompile compiles the effective contracts of the synthetic repository.
func BenchmarkCompile(b *testing.B) {
	root, outs := benchOutputs(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, diags := compile.Compile(ctx, root, outs)
		if len(diags) > 0 || len(res.Files) != len(outs) {
			b.Fatalf("compiled %d of %d: %v", len(res.Files), len(outs), diags)
		}
	}
	b.ReportMetric(float64(len(outs)), "events/op")
}

// BenchmarkFileSet is what `evctl build` adds after compiling: the deterministic set and its bytes.
func BenchmarkFileSet(b *testing.B) {
	root, outs := benchOutputs(b)
	res, _ := compile.Compile(context.Background(), root, outs)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compile.Marshal(compile.FileSet(res, nil)); err != nil {
			b.Fatal(err)
		}
	}
}
