package worker_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// setReads is a real file:// store whose reads of sets are counted.
type setReads struct {
	blob.Store
	mu sync.Mutex
	n  map[string]int
}

func (s *setReads) Get(ctx context.Context, key string) ([]byte, blob.Gen, error) {
	if strings.HasPrefix(key, descstore.SetsPrefix) {
		s.mu.Lock()
		s.n[key]++
		s.mu.Unlock()
	}
	return s.Store.Get(ctx, key)
}

// TestRegistrySchemaFetchedOncePerSet: records of many partitions naming a set the worker has
// not seen, decoded at once, read the set once; a set missing from the store is errNoSchema
// (the DLQ), not a retry.
func TestRegistrySchemaFetchedOncePerSet(t *testing.T) {
	ctx := context.Background()
	st, err := blob.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	set, _ := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name: proto.String("t.proto"), Package: proto.String("t"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M")}}}}})
	sha := descstore.SHA256(set)
	if _, err := st.Put(ctx, descstore.SetKey(sha), set, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	idx, _ := json.Marshal(descstore.Index{Events: map[string]descstore.Entry{"feed/t": {Message: "t.M", Topic: "local.feed.t.v1", SHA256: sha}}})
	if _, err := st.Put(ctx, descstore.IndexKey, idx, blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	counted := &setReads{Store: st, n: map[string]int{}}
	reg := worker.NewRegistry(counted)
	if err := reg.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 32
	var wg sync.WaitGroup
	schemas := make([]*worker.Schema, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { schemas[i], errs[i] = reg.Schema(ctx, "local.feed.t.v1", sha) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || schemas[i] != schemas[0] || schemas[i].Message.FullName() != "t.M" || schemas[i].Event != "feed/t" {
			t.Fatalf("caller %d: %+v %v", i, schemas[i], errs[i])
		}
	}
	if got := counted.n[descstore.SetKey(sha)]; got != 1 {
		t.Fatalf("%d reads of the set for %d concurrent decodes, want 1", got, n)
	}
	_, err = reg.Schema(ctx, "local.feed.t.v1", strings.Repeat("ab", 32))
	if err == nil || !strings.Contains(err.Error(), "schema not in the descriptor store") || !strings.Contains(err.Error(), "abab") {
		t.Fatalf("missing set: %v", err)
	}
}
