package compile_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/protogen"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// benchEvents is the size of the synthetic repository; scripts/bench.sh measures 1,200 end to end.
const benchEvents = 200

func benchOutputs(b testing.TB) (string, []*protogen.Output) {
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

// TestFileSetSameBytes guards a shortcut FileSet takes: it shares protocompile's descriptor protos
// instead of rebuilding them with protodesc, and must give the bytes rebuilding gives.
func TestFileSetSameBytes(t *testing.T) {
	root, outs := benchOutputs(t)
	res, diags := compile.Compile(context.Background(), root, outs[:40])
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	byPath := map[string]protoreflect.FileDescriptor{}
	var walk func(f protoreflect.FileDescriptor)
	walk = func(f protoreflect.FileDescriptor) {
		byPath[f.Path()] = f
		for i := 0; i < f.Imports().Len(); i++ {
			walk(f.Imports().Get(i).FileDescriptor)
		}
	}
	for _, f := range res.Files {
		walk(f)
	}
	set := compile.FileSet(res, nil)
	got, err := compile.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range set.File {
		set.File[i] = protodesc.ToFileDescriptorProto(byPath[f.GetName()])
	}
	want, err := compile.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("FileSet gives %d bytes, protodesc %d", len(got), len(want))
	}
}
