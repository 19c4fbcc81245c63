package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/kadm"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/evoptions"
	sinkdelta "github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

type benchEnv struct {
	dir      string
	desc     blob.Store
	lake     blob.Store
	location string
	sha      string
}

// setup publishes the event's descriptor set and creates its table, as apply would.
func setup() (*benchEnv, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ingestbench-")
	if err != nil {
		return nil, err
	}
	e := &benchEnv{dir: dir, location: "feed/event_v1"}
	if e.desc, err = blob.Open(ctx, "file://"+dir+"/descriptors"); err != nil {
		return nil, err
	}
	if e.lake, err = blob.Open(ctx, "file://"+dir+"/lake"); err != nil {
		return nil, err
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(path string) (io.ReadCloser, error) {
			if path == "event.proto" {
				return io.NopCloser(strings.NewReader(protoSrc)), nil
			}
			if b, ok := evoptions.Source(path); ok {
				return io.NopCloser(bytes.NewReader(b)), nil
			}
			return nil, os.ErrNotExist
		}})}
	files, err := c.Compile(ctx, "event.proto")
	if err != nil {
		return nil, err
	}
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := 0; i < f.Imports().Len(); i++ {
			add(f.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	add(files[0])
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	sum := sha256.Sum256(b)
	e.sha = hex.EncodeToString(sum[:])
	md := files[0].Messages().ByName("Event")
	if _, err := e.desc.Put(ctx, descstore.SetKey(e.sha), b, blob.PutOpts{}); err != nil {
		return nil, err
	}
	idx, _ := json.Marshal(descstore.Index{Events: map[string]descstore.Entry{"feed/event": {Message: string(md.FullName()), Topic: topic, SHA256: e.sha, Stage: "prod"}}})
	if _, err := e.desc.Put(ctx, descstore.IndexKey, idx, blob.PutOpts{}); err != nil {
		return nil, err
	}
	spec, err := sinkdelta.NewTableSpec("feed/event", "prod", md, []string{"event_date"})
	if err != nil {
		return nil, err
	}
	schema, _ := sinkdelta.SchemaString(spec.Schema)
	err = deltalog.Commit(ctx, e.lake, e.location, 0, []deltalog.Action{
		{Protocol: &deltalog.Protocol{MinReaderVersion: 1, MinWriterVersion: 2}},
		{MetaData: &deltalog.Metadata{ID: "bench", Format: deltalog.Format{Provider: "parquet"}, SchemaString: schema, PartitionColumns: spec.PartitionColumns}},
	})
	return e, err
}

// waitCaughtUp waits until the table's txn versions cover every partition's end offset. It
// polls the group's committed offsets (a cheap request to kfake, which the worker commits only
// after the Delta commit) and reads the Delta log only once they reach the end: reading the
// whole log every poll would charge the benchmark's own work to the worker process's CPU.
func waitCaughtUp(ctx context.Context, e *benchEnv, group string, adm *kadm.Client) error {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		if committed, err := adm.FetchOffsets(ctx, group); err == nil && caughtUp(ends, func(p int32) (int64, bool) {
			o, ok := committed.Lookup(topic, p)
			return o.At - 1, ok && o.Err == nil
		}) {
			snap, err := deltalog.Read(ctx, e.lake, e.location)
			if err != nil {
				return err
			}
			if caughtUp(ends, func(p int32) (int64, bool) {
				v, ok := snap.Txns[fmt.Sprintf("%s/%s/%d", group, topic, p)]
				return v, ok
			}) {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not caught up after 30 minutes")
}

// caughtUp reports whether last(p), the last offset done in partition p, reaches every
// non-empty partition's end.
func caughtUp(ends kadm.ListedOffsets, last func(p int32) (int64, bool)) bool {
	ok := true
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset == 0 {
			return
		}
		if v, has := last(o.Partition); !has || v < o.Offset-1 {
			ok = false
		}
	})
	return ok
}
