package descstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// backends runs fn against a file:// store and a gs:// store on fake-gcs-server.
func backends(t *testing.T, fn func(t *testing.T, st blob.Store)) {
	open := func(t *testing.T, url string) blob.Store {
		st, err := blob.Open(testCtx(t), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	t.Run("file", func(t *testing.T) { fn(t, open(t, "file://"+t.TempDir())) })
	t.Run("gs", func(t *testing.T) {
		blobtest.FakeGCS(t, "evctl-test")
		fn(t, open(t, "gs://evctl-test/descriptors"))
	})
}

func entry(id string, set []byte) descstore.Entry {
	return descstore.Entry{Message: "events." + id, Topic: "local." + id, SHA256: descstore.SHA256(set), Stage: "prod"}
}

func TestPublishRoundTrip(t *testing.T) {
	backends(t, func(t *testing.T, st blob.Store) {
		ctx := testCtx(t)
		idx, gen, err := descstore.ReadIndex(ctx, st)
		if err != nil || gen != "" || len(idx.Events) != 0 {
			t.Fatalf("empty store: %v %q %v", idx, gen, err)
		}
		a, b := []byte("set a"), []byte("set b")
		entries := map[string]descstore.Entry{"feed/a": entry("a", a), "feed/b": entry("b", b)}
		sets := map[string][]byte{descstore.SHA256(a): a, descstore.SHA256(b): b}
		if err := descstore.Publish(ctx, st, entries, sets); err != nil {
			t.Fatal(err)
		}
		idx, gen, err = descstore.ReadIndex(ctx, st)
		if err != nil || gen == "" {
			t.Fatalf("read index: %v %q", err, gen)
		}
		if got := idx.EventIDs(); fmt.Sprint(got) != "[feed/a feed/b]" {
			t.Fatalf("events %v", got)
		}
		if idx.Events["feed/a"] != entries["feed/a"] {
			t.Fatalf("entry %+v, want %+v", idx.Events["feed/a"], entries["feed/a"])
		}
		got, err := descstore.ReadSet(ctx, st, descstore.SHA256(b))
		if err != nil || string(got) != "set b" {
			t.Fatalf("read set: %q %v", got, err)
		}
		base, err := descstore.ReadBaseline(ctx, st, []string{"feed/a", "feed/unpublished"})
		if err != nil {
			t.Fatal(err)
		}
		if len(base.Sets) != 1 || string(base.Sets[descstore.SHA256(a)]) != "set a" || len(base.Index.Events) != 2 {
			t.Fatalf("baseline %+v", base)
		}
		all, err := descstore.ReadBaseline(ctx, st, nil)
		if err != nil || len(all.Sets) != 2 {
			t.Fatalf("full baseline: %v %v", all, err)
		}
	})
}

// TestIndexNamesOnlyWrittenSets: a set that cannot be written keeps its entry out of the index.
func TestIndexNamesOnlyWrittenSets(t *testing.T) {
	backends(t, func(t *testing.T, st blob.Store) {
		ctx := testCtx(t)
		bad := []byte("bad")
		err := descstore.Publish(ctx, st, map[string]descstore.Entry{"feed/x": {SHA256: "0000"}}, map[string][]byte{"0000": bad})
		if !errors.Is(err, descstore.ErrCorruptSet) {
			t.Fatalf("publish with a wrong sha: %v", err)
		}
		if _, _, err := st.Get(ctx, descstore.IndexKey); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("index written although its set was not: %v", err)
		}
	})
}

func TestReadSetChecksContent(t *testing.T) {
	backends(t, func(t *testing.T, st blob.Store) {
		ctx := testCtx(t)
		sha := descstore.SHA256([]byte("real"))
		if _, err := st.Put(ctx, descstore.SetKey(sha), []byte("tampered"), blob.PutOpts{}); err != nil {
			t.Fatal(err)
		}
		if _, err := descstore.ReadSet(ctx, st, sha); !errors.Is(err, descstore.ErrCorruptSet) {
			t.Fatalf("tampered set: %v", err)
		}
		if _, err := descstore.ReadSet(ctx, st, descstore.SHA256([]byte("missing"))); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("missing set: %v", err)
		}
		if _, err := st.Put(ctx, descstore.IndexKey, []byte("{not json"), blob.PutOpts{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := descstore.ReadIndex(ctx, st); err == nil {
			t.Fatal("corrupt index read without error")
		}
	})
}

// TestConcurrentPublishers: writers racing on index.json each keep their entry.
func TestConcurrentPublishers(t *testing.T) {
	backends(t, func(t *testing.T, st blob.Store) {
		ctx := testCtx(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				set := fmt.Appendf(nil, "set %d", i)
				id := fmt.Sprintf("feed/e%d", i)
				errs[i] = descstore.Publish(ctx, st, map[string]descstore.Entry{id: entry(id, set)}, map[string][]byte{descstore.SHA256(set): set})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		idx, _, err := descstore.ReadIndex(ctx, st)
		if err != nil || len(idx.Events) != n {
			t.Fatalf("index after %d publishers: %d events, %v", n, len(idx.Events), err)
		}
	})
}

func TestHeaderNames(t *testing.T) {
	// The names are public API (SPEC section 6): consumers outside evctl match on them.
	if descstore.HeaderEvent != "evctl-event" || descstore.HeaderSchema != "evctl-schema" ||
		descstore.HeaderContentType != "content-type" || descstore.ContentType != "application/x-protobuf" {
		t.Fatal("record header names changed")
	}
}

// FuzzDecodeIndex: any bytes decode to an index or an error, never a panic, and what decodes
// encodes and decodes again to the same events.
func FuzzDecodeIndex(f *testing.F) {
	f.Add([]byte(`{"events":{"feed/a":{"message":"m","topic":"t","sha256":"s","stage":"prod"}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"events":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := descstore.DecodeIndex(b)
		if err != nil {
			return
		}
		if idx.Events == nil {
			t.Fatal("nil events")
		}
		out, err := descstore.EncodeIndex(idx)
		if err != nil {
			t.Fatal(err)
		}
		again, err := descstore.DecodeIndex(out)
		if err != nil || len(again.Events) != len(idx.Events) {
			t.Fatalf("round trip: %v", err)
		}
		for id, e := range idx.Events {
			if again.Events[id] != e {
				t.Fatalf("%s: %+v != %+v", id, again.Events[id], e)
			}
		}
	})
}
