package delta_test

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

const header = `syntax = "proto3";
package t.v1;
import "evctl/options.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";
import "google/type/date.proto";
`

// base is the lake URL as evctl.yaml would write it; names live under it.
const base = "file://.evctl/lake"

const event = "feed/video_played"

var tableName = delta.TableName(base, "feed/video_played_v1")

// message compiles header+body and returns message M.
func message(t testing.TB, body string) protoreflect.MessageDescriptor {
	t.Helper()
	src := header + body
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
	md := files[0].Messages().ByName("M")
	if md == nil {
		t.Fatal("no message M")
	}
	return md
}

// spec builds the table spec of message M.
func spec(t testing.TB, stage, body string, partitionBy ...string) delta.TableSpec {
	t.Helper()
	s, err := delta.NewTableSpec(event, stage, message(t, body), partitionBy)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func desired(s delta.TableSpec) sink.Desired {
	return sink.Desired{Event: s.Event, Kind: delta.Kind, Name: tableName, Stage: s.Stage, Spec: s}
}

type backend struct {
	name string
	open func(t *testing.T) blob.Store
}

var backends = []backend{
	{"file", func(t *testing.T) blob.Store {
		s, err := blob.Open(t.Context(), "file://"+t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"gcs", func(t *testing.T) blob.Store {
		blobtest.FakeGCS(t, "lake")
		s, err := blob.Open(t.Context(), "gs://lake/prefix")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

func fileStore(t *testing.T) blob.Store { return backends[0].open(t) }

func newSink(store blob.Store) *delta.Sink {
	clock := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	return delta.New(store, base, delta.Options{Now: func() time.Time { return clock }, NewID: func() string { return "00000000-0000-4000-8000-000000000001" }})
}

// plan observes and diffs one desired table.
func plan(t *testing.T, s *delta.Sink, d sink.Desired) sink.Change {
	t.Helper()
	obs, err := s.Observe(t.Context(), []sink.Desired{d})
	if err != nil {
		t.Fatal(err)
	}
	chs, err := s.Diff([]sink.Desired{d}, obs)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 1 {
		t.Fatalf("%d changes, want 1", len(chs))
	}
	return chs[0]
}

// converge plans d, wants action, applies it, and checks the next plan is a noop.
func converge(t *testing.T, s *delta.Sink, d sink.Desired, action sink.Action) sink.Change {
	t.Helper()
	c := plan(t, s, d)
	if c.Action != action {
		t.Fatalf("plan: action %s (%s), want %s; diff %v", c.Action, c.Reason, action, c.Diff)
	}
	if err := s.Apply(t.Context(), c); err != nil {
		t.Fatalf("apply %s: %v", action, err)
	}
	if again := plan(t, s, d); again.Action != sink.Noop {
		t.Fatalf("plan after %s: %s (%s) %v, want noop", action, again.Action, again.Reason, again.Diff)
	}
	return c
}

// live observes the table and returns its live shape.
func live(t *testing.T, s *delta.Sink) delta.Live {
	t.Helper()
	obs, err := s.Observe(t.Context(), []sink.Desired{{Kind: delta.Kind, Name: tableName}})
	if err != nil || obs[0].Err != nil || !obs[0].Exists {
		t.Fatalf("observe: %v %v exists=%v", err, obs[0].Err, obs[0].Exists)
	}
	return obs[0].Spec.(delta.Live)
}

// handCommit writes a commit the way another writer (Spark) would, at the given version.
func handCommit(t *testing.T, store blob.Store, loc string, v int64, actions ...deltalog.Action) {
	t.Helper()
	if err := deltalog.Commit(t.Context(), store, loc, v, actions); err != nil {
		t.Fatal(err)
	}
}

// hookStore runs before(key) ahead of every Put, once per key, so a test can slip another
// writer's commit in between evctl's read and its write.
type hookStore struct {
	blob.Store
	mu     sync.Mutex
	done   map[string]bool
	before func(key string)
}

func (h *hookStore) Put(ctx context.Context, key string, data []byte, opts blob.PutOpts) (blob.Gen, error) {
	h.mu.Lock()
	run := !h.done[key]
	if h.done == nil {
		h.done = map[string]bool{}
	}
	h.done[key] = true
	h.mu.Unlock()
	if run && h.before != nil {
		h.before(key)
	}
	return h.Store.Put(ctx, key, data, opts)
}
