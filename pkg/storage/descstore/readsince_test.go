package descstore_test

import (
	"context"
	"testing"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// TestReadIndexSince: the poller's read decodes index.json only when its generation moved, and
// reports a corrupt index as ReadIndex does.
func TestReadIndexSince(t *testing.T) {
	ctx := context.Background()
	st, err := blob.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	idx, gen, changed, err := descstore.ReadIndexSince(ctx, st, "")
	if err != nil || !changed || len(idx.Events) != 0 || gen != "" {
		t.Fatalf("no index: %v %q %v %v", idx, gen, changed, err)
	}
	entry := descstore.Entry{Message: "a.A", Topic: "t", SHA256: "x", Stage: "prod"}
	if err := descstore.UpdateIndex(ctx, st, func(i *descstore.Index) { i.Events["feed/a"] = entry }); err != nil {
		t.Fatal(err)
	}
	idx, gen, changed, err = descstore.ReadIndexSince(ctx, st, "")
	if err != nil || !changed || idx.Events["feed/a"] != entry || gen == "" {
		t.Fatalf("first read: %v %q %v %v", idx, gen, changed, err)
	}
	if idx, g, changed, err := descstore.ReadIndexSince(ctx, st, gen); err != nil || changed || idx != nil || g != gen {
		t.Fatalf("unchanged: %v %q %v %v", idx, g, changed, err)
	}
	if err := descstore.UpdateIndex(ctx, st, func(i *descstore.Index) { delete(i.Events, "feed/a") }); err != nil {
		t.Fatal(err)
	}
	if idx, g, changed, err := descstore.ReadIndexSince(ctx, st, gen); err != nil || !changed || len(idx.Events) != 0 || g == gen {
		t.Fatalf("changed: %v %q %v %v", idx, g, changed, err)
	}
	if _, err := st.Put(ctx, descstore.IndexKey, []byte("{broken"), blob.PutOpts{}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := descstore.ReadIndexSince(ctx, st, gen); err == nil {
		t.Fatal("a corrupt index read without error")
	}
}
