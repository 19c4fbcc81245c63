package typemap_test

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// compile compiles .proto sources (path → source) the way evctl does: standard imports, the
// embedded evoptions files, source info kept for descriptions.
func compile(t testing.TB, srcs map[string]string) map[string]protoreflect.FileDescriptor {
	t.Helper()
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) {
				if s, ok := srcs[path]; ok {
					return io.NopCloser(strings.NewReader(s)), nil
				}
				if b, ok := evoptions.Source(path); ok {
					return io.NopCloser(strings.NewReader(string(b))), nil
				}
				return nil, os.ErrNotExist
			},
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	files, err := c.Compile(context.Background(), names...)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	out := map[string]protoreflect.FileDescriptor{}
	for _, f := range files {
		out[f.Path()] = f
	}
	return out
}

// message compiles one source and returns its first top-level message.
func message(t testing.TB, src string) protoreflect.MessageDescriptor {
	t.Helper()
	fd := compile(t, map[string]string{"test.proto": src})["test.proto"]
	if fd.Messages().Len() == 0 {
		t.Fatal("no message in source")
	}
	return fd.Messages().Get(0)
}

// testdataMessage compiles testdata/protos/<rel> and returns its first top-level message.
func testdataMessage(t testing.TB, rel string) protoreflect.MessageDescriptor {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "protos", rel))
	if err != nil {
		t.Fatal(err)
	}
	fd := compile(t, map[string]string{rel: string(b)})[rel]
	return fd.Messages().Get(0)
}

// golden compares got with testdata/golden/<name>, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from golden (run go test -update and review; -want +got):\n%s", name, cmp.Diff(string(want), string(got)))
	}
}

// header is the preamble of inline test protos.
const header = `syntax = "proto3";
package t.v1;
import "evctl/options.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";
import "google/type/date.proto";
`
