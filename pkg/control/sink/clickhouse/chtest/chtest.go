// Package chtest starts a real clickhouse-server for a test: loopback ports chosen at run time,
// data in t.TempDir(), killed by t.Cleanup. A missing binary fails the test (scripts/install-tools.sh
// installs it); it never skips.
package chtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/evoptions"

	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chserver"
)

// Start starts a server for t and returns it.
func Start(t testing.TB) *chserver.Server {
	t.Helper()
	s, err := chserver.Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

// Message compiles .proto source the way evctl does (standard imports, evctl's options and
// google/type/date.proto) and returns the top-level message named name.
func Message(t testing.TB, src, name string) protoreflect.MessageDescriptor {
	t.Helper()
	md, err := CompileMessage(src, name)
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	return md
}

// CompileMessage is Message for code without a testing.TB (a test binary's child process).
func CompileMessage(src, name string) (protoreflect.MessageDescriptor, error) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) {
				if path == "test.proto" {
					return io.NopCloser(strings.NewReader(src)), nil
				}
				if b, ok := evoptions.Source(path); ok {
					return io.NopCloser(strings.NewReader(string(b))), nil
				}
				return nil, os.ErrNotExist
			},
		}),
	}
	files, err := c.Compile(context.Background(), "test.proto")
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	md := files[0].Messages().ByName(protoreflect.Name(name))
	if md == nil {
		return nil, fmt.Errorf("no message %s", name)
	}
	return md, nil
}
