package compile_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/compile"
)

// TestSetCacheSameBytes checks that SetCache's concatenation of separately marshalled files is
// byte for byte the deterministic marshal of the whole FileDescriptorSet, per event (what
// `evctl plan` publishes), for all events at once, and when called concurrently.
func TestSetCacheSameBytes(t *testing.T) {
	root, outs := benchOutputs(t)
	res, diags := compile.Compile(context.Background(), root, outs[:60])
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	cache := compile.NewSetCache(res)
	check := func(ids []string) {
		want, err := compile.Marshal(compile.FileSet(res, ids))
		if err != nil {
			t.Error(err)
			return
		}
		got, sha, err := cache.Marshal(ids)
		if err != nil {
			t.Error(err)
			return
		}
		if !bytes.Equal(got, want) {
			t.Errorf("SetCache.Marshal(%v): %d bytes, differ from compile.Marshal's %d", ids, len(got), len(want))
		}
		if sha != compile.SHA256(want) {
			t.Errorf("SetCache.Marshal(%v): sha256 %s, want %s", ids, sha, compile.SHA256(want))
		}
	}
	var wg sync.WaitGroup
	for id := range res.Files {
		wg.Go(func() { check([]string{id}) })
	}
	wg.Wait()
	check(nil)
	var two []string
	for id := range res.Files {
		if two = append(two, id); len(two) == 2 {
			break
		}
	}
	check(two)
}
