package stores_test

import (
	"context"
	"testing"

	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/counterstore/redis/redistest"
	"github.com/evctl/evctl/pkg/data/counterstore/stores"
)

// TestOpenEachKind opens both kinds through one call and refuses what is neither.
func TestOpenEachKind(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	root := t.TempDir()
	for _, raw := range []string{srv.URL(1), "file://.evctl/counters"} {
		s, err := stores.Open(ctx, raw, root, "local", "")
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if _, err := s.Apply(ctx, counterstore.Batch{Scope: "s", Prev: -1, Offset: 1, Increments: []counterstore.Increment{{Counter: "c", Key: "k", Delta: 2}}}); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if v, err := s.Get(ctx, "c", []string{"k"}); err != nil || v[0] != 2 {
			t.Fatalf("%s: get = %v, %v", raw, v, err)
		}
		s.Close()
	}
	for _, bad := range []string{"", "http://x", "file://", "scylla://h:9042"} {
		if _, err := stores.Open(ctx, bad, root, "local", ""); err == nil {
			t.Errorf("open %q succeeded", bad)
		}
	}
}
