package bigquery_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
)

// message compiles .proto source the way evctl does (standard imports, evctl's embedded
// options and google/type/date.proto, source info for descriptions) and returns its first
// top-level message.
func message(t testing.TB, src string) protoreflect.MessageDescriptor {
	t.Helper()
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
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), "test.proto")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return files[0].Messages().Get(0)
}

// everything is testdata/everything.proto's message.
func everything(t testing.TB) protoreflect.MessageDescriptor {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "everything.proto"))
	if err != nil {
		t.Fatal(err)
	}
	return message(t, string(b))
}

// spec builds the table spec of md in project test, dataset events.
func spec(t testing.TB, md protoreflect.MessageDescriptor, table, stage string) bigquery.TableSpec {
	t.Helper()
	s, err := bigquery.NewTableSpec(md, "test", "events", table, bigquery.TableOptions{
		PartitionBy: "event_time", ClusterBy: []string{"user_id"},
		Event: "test/" + table, OwnerTeam: "Growth", Stage: stage, Description: "Everything an event can hold.",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func desired(s bigquery.TableSpec, stage string) sink.Desired {
	return sink.Desired{Event: "test/" + s.Table, Kind: bigquery.Kind, Name: s.ID(), Stage: stage, Spec: s}
}
