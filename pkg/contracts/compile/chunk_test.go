package compile_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/protogen"
)

// inOnePiece compiles the synthetic repository in one piece: the reference the chunked
// compilations are compared with, and its set's bytes.
func inOnePiece(t *testing.T) (string, []*protogen.Output, *compile.Result, []byte) {
	t.Helper()
	root, outs := benchOutputs(t)
	whole, diags := compile.CompileInChunks(context.Background(), root, outs, 0)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	set, err := compile.Marshal(compile.FileSet(whole, nil))
	if err != nil {
		t.Fatal(err)
	}
	return root, outs, whole, set
}

// TestChunksChangeNothing: compiled in chunks (as every repository larger than one chunk is),
// the contracts give the same set, byte for byte, as compiled in one piece; raw protos that
// import shared files are among them, so those files cross chunks.
func TestChunksChangeNothing(t *testing.T) {
	ctx := context.Background()
	root, outs, whole, want := inOnePiece(t)
	for _, chunk := range []int{7, 64} {
		res, diags := compile.CompileInChunks(ctx, root, outs, chunk)
		if len(diags) > 0 {
			t.Fatalf("chunks of %d: %v", chunk, diags)
		}
		if len(res.Files) != len(whole.Files) || len(res.Messages) != len(whole.Messages) {
			t.Fatalf("chunks of %d: %d files, %d messages; want %d, %d", chunk, len(res.Files), len(res.Messages), len(whole.Files), len(whole.Messages))
		}
		got, err := compile.Marshal(compile.FileSet(res, nil))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("chunks of %d: the set differs from one compiled in one piece", chunk)
		}
	}
}

// TestCompileForSetSameBytes: compiled for a set (each file encoded as it is compiled, its
// source info then dropped from the descriptor kept), in chunks or in one piece, the set from
// SetCache and from FileSet is byte for byte Compile's.
func TestCompileForSetSameBytes(t *testing.T) {
	ctx := context.Background()
	root, outs, _, want := inOnePiece(t)
	for _, chunk := range []int{0, 16} {
		res, diags := compile.CompileForSetInChunks(ctx, root, outs, chunk)
		if len(diags) > 0 {
			t.Fatalf("chunks of %d: %v", chunk, diags)
		}
		got, _, err := compile.NewSetCache(res).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("chunks of %d: SetCache's set differs from Compile's", chunk)
		}
		if got, err = compile.Marshal(compile.FileSet(res, nil)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("chunks of %d: FileSet's set differs from Compile's (%v)", chunk, err)
		}
		for id, md := range res.Messages {
			if n := md.ParentFile().SourceLocations().Len(); n != 0 {
				t.Fatalf("%s: %d source locations kept; CompileForSet keeps none", id, n)
			}
		}
	}
}

// TestChunksFindingsExact: a name clash between files of different chunks is found, and the
// findings of a broken repository are exactly those of a compilation in one piece.
func TestChunksFindingsExact(t *testing.T) {
	root, outs := benchOutputs(t)
	ctx := context.Background()
	// The last file redefines the first one's message in the first one's package, and one in
	// the middle does not parse.
	first, last, mid := *outs[0], *outs[len(outs)-1], *outs[len(outs)/2]
	last.Source = []byte(strings.Replace(string(first.Source), "package ", "// clash\npackage ", 1))
	mid.Source = append([]byte("syntax = \"proto3\";\nmessage {\n"), mid.Source...)
	broken := append([]*protogen.Output(nil), outs...)
	broken[len(outs)-1], broken[len(outs)/2] = &last, &mid

	// Which of two clashing files protocompile blames depends on which it links first, in one
	// piece as in chunks; what must hold is that both ways find the same problems.
	summary := func(ds []string) map[string]bool {
		m := map[string]bool{}
		for _, d := range ds {
			switch {
			case strings.Contains(d, "syntax error"):
				m[d] = true
			case strings.Contains(d, "already defined"):
				m["clash"] = true
			}
		}
		return m
	}
	for _, chunk := range []int{0, 16} {
		_, ds := compile.CompileInChunks(ctx, root, broken, chunk)
		var msgs []string
		for _, d := range ds {
			msgs = append(msgs, d.String())
		}
		got := summary(msgs)
		want := map[string]bool{"clash": true,
			"contracts/" + strings.TrimSuffix(mid.Path, ".proto") + ".yaml:1:1: PROTO_COMPILE: generated " + mid.Path + ":2:9: syntax error: unexpected '{'": true}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("chunks of %d: findings %v\nwant %v", chunk, msgs, want)
		}
	}
}

// TestLinkDirectSameBytes: CompileEach links the files of later chunks directly (without
// protocompile's scheduler and its index of source locations); every file's encoding, and the
// descriptors kept, are those of a compilation in one piece, and most files went the direct way.
func TestLinkDirectSameBytes(t *testing.T) {
	ctx := context.Background()
	root, outs, whole, _ := inOnePiece(t)
	wantEnc := map[string][]byte{}
	for _, f := range compile.FileSet(whole, nil).File {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		wantEnc[f.GetName()] = b
	}
	if n := compile.LinkDirectCount(root, outs, 7); n < len(outs)*3/4 {
		t.Fatalf("only %d of %d files linked directly", n, len(outs))
	}
	// Outputs that come parsed (protogen.RawParsed) are linked from that parse: same bytes.
	parsed := make([]*protogen.Output, len(outs))
	for i, o := range outs {
		c := *o
		node, err := parser.Parse(o.Path, bytes.NewReader(o.Source), reporter.NewHandler(nil))
		if err != nil {
			t.Fatal(err)
		}
		c.Parsed = node
		parsed[i] = &c
	}
	for _, outs := range [][]*protogen.Output{outs, parsed} {
		seen := 0
		err := compile.CompileEach(ctx, root, outs, 7, func(res *compile.Result, ds diag.List) error {
			if len(ds) > 0 {
				t.Fatalf("findings: %v", ds)
			}
			for id, f := range res.Files {
				seen++
				for _, p := range append([]string{f.Path()}, importsOf(f)...) {
					got, ok := res.Encoding(p)
					if !ok || !bytes.Equal(got, wantEnc[p]) {
						t.Fatalf("%s: the encoding of %s differs from one compiled in one piece", id, p)
					}
				}
				if n := f.SourceLocations().Len(); n != 0 {
					t.Fatalf("%s: %d source locations kept", id, n)
				}
				if res.Messages[id] == nil || string(res.Messages[id].FullName()) != res.Outputs[id].Message {
					t.Fatalf("%s: message %v", id, res.Messages[id])
				}
			}
			return nil
		})
		if err != nil || seen != len(outs) {
			t.Fatalf("compiled %d of %d: %v", seen, len(outs), err)
		}
	}
}

func importsOf(f protoreflect.FileDescriptor) []string {
	var out []string
	imps := f.Imports()
	for i := 0; i < imps.Len(); i++ {
		out = append(out, imps.Get(i).Path())
		out = append(out, importsOf(imps.Get(i).FileDescriptor)...)
	}
	return out
}
