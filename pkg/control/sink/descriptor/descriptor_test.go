package descriptor_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/blob/blobtest"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// backends runs fn against a file:// store in a temporary directory and a gs:// store on
// fake-gcs-server.
func backends(t *testing.T, fn func(t *testing.T, open func() blob.Store)) {
	t.Run("file", func(t *testing.T) {
		url := "file://" + t.TempDir()
		fn(t, func() blob.Store { return openStore(t, url) })
	})
	t.Run("gs", func(t *testing.T) {
		blobtest.FakeGCS(t, "evctl-test")
		fn(t, func() blob.Store { return openStore(t, "gs://evctl-test/descriptors") })
	})
}

func openStore(t *testing.T, url string) blob.Store {
	t.Helper()
	s, err := blob.Open(testCtx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hookedStore is a real store with a hook run before each Put, to watch the order of writes,
// make one write fail, or slip a concurrent writer in. Everything else is the real store.
type hookedStore struct {
	blob.Store
	beforePut func(key string, data []byte) error
}

func (h *hookedStore) Put(ctx context.Context, key string, data []byte, opts blob.PutOpts) (blob.Gen, error) {
	if h.beforePut != nil {
		if err := h.beforePut(key, data); err != nil {
			return "", err
		}
	}
	return h.Store.Put(ctx, key, data, opts)
}

func want(id, stage string, set []byte) sink.Desired {
	s := sha256.Sum256(set)
	domain, name, _ := strings.Cut(id, "/")
	return sink.Desired{Event: id, Kind: descriptor.Kind, Name: id, Stage: stage, Spec: descriptor.Spec{
		Entry: descstore.Entry{Message: "events." + domain + ".v1." + name, Topic: "local." + domain + "." + name + ".v1",
			SHA256: hex.EncodeToString(s[:]), Stage: stage},
		Set: set,
	}}
}

func plan(t *testing.T, s *descriptor.Sink, ds ...sink.Desired) []sink.Change {
	t.Helper()
	have, err := s.Observe(testCtx(t), ds)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.Diff(ds, have)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func applyAll(t *testing.T, s *descriptor.Sink, cs []sink.Change) {
	t.Helper()
	for i, err := range s.ApplyBatch(testCtx(t), cs) {
		if err != nil {
			t.Fatalf("%s: %v", cs[i].ID(), err)
		}
	}
}

func actions(cs []sink.Change) []sink.Action {
	out := make([]sink.Action, len(cs))
	for i, c := range cs {
		out[i] = c.Action
	}
	return out
}

// checkIndexSets fails t unless every set index.json names exists.
func checkIndexSets(t *testing.T, store blob.Store) *descstore.Index {
	t.Helper()
	idx, _, err := descstore.ReadIndex(testCtx(t), store)
	if err != nil {
		t.Fatal(err)
	}
	for id, e := range idx.Events {
		if _, err := descstore.ReadSet(testCtx(t), store, e.SHA256); err != nil {
			t.Errorf("index names set %s for %s, which does not exist: %v", e.SHA256, id, err)
		}
	}
	return idx
}

func TestDiffCreateUpdateNoopDelete(t *testing.T) {
	backends(t, func(t *testing.T, open func() blob.Store) {
		store := open()
		s := descriptor.New(store)
		a, b := want("feed/a", "staging", []byte("set a")), want("feed/b", "prod", []byte("set b"))

		cs := plan(t, s, a, b)
		if got := actions(cs); !reflect.DeepEqual(got, []sink.Action{sink.Create, sink.Create}) {
			t.Fatalf("from empty: %v", got)
		}
		if d := cs[0].Diff; len(d) != 1 || d[0].Path != "sha256" || d[0].To != a.Spec.(descriptor.Spec).SHA256 {
			t.Fatalf("create diff %v", d)
		}
		applyAll(t, s, cs)
		if got := actions(plan(t, s, a, b)); !reflect.DeepEqual(got, []sink.Action{sink.Noop, sink.Noop}) {
			t.Fatalf("after apply: %v", got)
		}

		a2 := want("feed/a", "prod", []byte("set a, v2"))
		cs = plan(t, s, a2, b)
		wantDiff := []sink.DiffEntry{
			{Path: "sha256", From: a.Spec.(descriptor.Spec).SHA256, To: a2.Spec.(descriptor.Spec).SHA256},
			{Path: "stage", From: "staging", To: "prod"},
		}
		if cs[0].Action != sink.Update || !reflect.DeepEqual(cs[0].Diff, wantDiff) || cs[1].Action != sink.Noop {
			t.Fatalf("after a change: %v %v", actions(cs), cs[0].Diff)
		}
		applyAll(t, s, cs)

		gone := sink.Desired{Event: "feed/b", Kind: descriptor.Kind, Name: "feed/b", Absent: true}
		cs = plan(t, s, a2, gone)
		if got := actions(cs); !reflect.DeepEqual(got, []sink.Action{sink.Noop, sink.Delete}) {
			t.Fatalf("event removed: %v", got)
		}
		applyAll(t, s, cs)
		idx := checkIndexSets(t, store)
		if got := idx.EventIDs(); !reflect.DeepEqual(got, []string{"feed/a"}) {
			t.Fatalf("index after delete: %v", got)
		}
		if _, err := descstore.ReadSet(testCtx(t), store, b.Spec.(descriptor.Spec).SHA256); err != nil {
			t.Fatalf("a deleted event's set is gone (sets are immutable): %v", err)
		}
		if got := actions(plan(t, s, a2, gone)); !reflect.DeepEqual(got, []sink.Action{sink.Noop, sink.Noop}) {
			t.Fatalf("after delete: %v", got)
		}
	})
}

// TestApplyBatchWritesSetsThenOneIndex checks the order of writes: every set first (a set shared
// by two events once), then index.json once, and at that moment every set it names exists.
func TestApplyBatchWritesSetsThenOneIndex(t *testing.T) {
	backends(t, func(t *testing.T, open func() blob.Store) {
		real := open()
		var (
			mu   sync.Mutex // sets are written concurrently
			puts []string
		)
		h := &hookedStore{Store: real, beforePut: func(key string, data []byte) error {
			mu.Lock()
			puts = append(puts, key)
			mu.Unlock()
			if key != descstore.IndexKey {
				return nil
			}
			var idx descstore.Index
			if err := json.Unmarshal(data, &idx); err != nil {
				return fmt.Errorf("index written is not JSON: %v", err)
			}
			for id, e := range idx.Events {
				if _, _, err := real.Get(testCtx(t), descstore.SetKey(e.SHA256)); err != nil {
					t.Errorf("index written naming %s for %s before the set exists: %v", e.SHA256, id, err)
				}
			}
			return nil
		}}
		s := descriptor.New(h)
		cs := plan(t, s, want("feed/a", "prod", []byte("A")), want("feed/b", "prod", []byte("B")), want("feed/c", "prod", []byte("A")))
		applyAll(t, s, cs)
		if len(puts) != 3 || puts[2] != descstore.IndexKey {
			t.Fatalf("writes %v, want two sets then the index", puts)
		}
		if got := checkIndexSets(t, real).EventIDs(); len(got) != 3 {
			t.Fatalf("index events %v", got)
		}
	})
}

// TestSetWriteFailureKeepsEventOutOfIndex fails one set's write: that event's change fails and
// the index, written for the others, does not name it.
func TestSetWriteFailureKeepsEventOutOfIndex(t *testing.T) {
	backends(t, func(t *testing.T, open func() blob.Store) {
		real := open()
		bad := want("feed/bad", "prod", []byte("unwritable"))
		badKey := descstore.SetKey(bad.Spec.(descriptor.Spec).SHA256)
		h := &hookedStore{Store: real, beforePut: func(key string, _ []byte) error {
			if key == badKey {
				return errors.New("injected: disk full")
			}
			return nil
		}}
		s := descriptor.New(h)
		cs := plan(t, s, want("feed/a", "prod", []byte("A")), bad)
		errs := s.ApplyBatch(testCtx(t), cs)
		if errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "injected: disk full") {
			t.Fatalf("errors %v, want only feed/bad failed with the store's error", errs)
		}
		if got := checkIndexSets(t, real).EventIDs(); !reflect.DeepEqual(got, []string{"feed/a"}) {
			t.Fatalf("index events %v, want only feed/a", got)
		}
	})
}

// TestConcurrentIndexWriterIsRetried lets another writer replace index.json between this
// sink's read and its write: the compare-and-swap fails, the sink re-reads and writes both.
func TestConcurrentIndexWriterIsRetried(t *testing.T) {
	backends(t, func(t *testing.T, open func() blob.Store) {
		real := open()
		other := descriptor.New(real)
		var once sync.Once
		indexPuts := 0
		h := &hookedStore{Store: real, beforePut: func(key string, _ []byte) error {
			if key != descstore.IndexKey {
				return nil
			}
			indexPuts++
			once.Do(func() { applyAll(t, other, plan(t, other, want("feed/other", "prod", []byte("O")))) })
			return nil
		}}
		s := descriptor.New(h)
		applyAll(t, s, plan(t, s, want("feed/a", "prod", []byte("A"))))
		if indexPuts != 2 {
			t.Fatalf("%d index writes, want 2 (one lost the race, one retried)", indexPuts)
		}
		if got := checkIndexSets(t, real).EventIDs(); !reflect.DeepEqual(got, []string{"feed/a", "feed/other"}) {
			t.Fatalf("index events %v, want both writers' events", got)
		}
	})
}

// TestConcurrentApplyBatchesLoseNothing runs many publishers at once on one store: every event
// ends in the index.
func TestConcurrentApplyBatchesLoseNothing(t *testing.T) {
	backends(t, func(t *testing.T, open func() blob.Store) {
		const n = 12
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			s := descriptor.New(open())
			d := want(fmt.Sprintf("feed/e%02d", i), "prod", fmt.Appendf(nil, "set %d", i))
			have, err := s.Observe(testCtx(t), []sink.Desired{d})
			if err != nil {
				t.Fatal(err)
			}
			cs, _ := s.Diff([]sink.Desired{d}, have)
			wg.Go(func() { errs[i] = s.ApplyBatch(testCtx(t), cs)[0] })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("publisher %d: %v", i, err)
			}
		}
		if got := checkIndexSets(t, open()).EventIDs(); len(got) != n {
			t.Fatalf("index has %d events, want %d: %v", len(got), n, got)
		}
	})
}

// TestCorruptIndex: a corrupt index.json is an error naming the object and the way out, on
// observe and on apply, and is never overwritten.
func TestCorruptIndex(t *testing.T) {
	backends(t, func(t *testing.T, open func() blob.Store) {
		store := open()
		garbage := []byte("{\"events\": {\"feed/a\": ")
		if _, err := store.Put(testCtx(t), descstore.IndexKey, garbage, blob.PutOpts{}); err != nil {
			t.Fatal(err)
		}
		s := descriptor.New(store)
		d := want("feed/a", "prod", []byte("A"))
		_, err := s.Observe(testCtx(t), []sink.Desired{d})
		if err == nil || !strings.Contains(err.Error(), "index.json is corrupt") || !strings.Contains(err.Error(), "evctl apply") {
			t.Fatalf("observe a corrupt index: %v, want the object and the way out", err)
		}
		c := sink.Change{Event: d.Event, Kind: descriptor.Kind, Name: d.Name, Action: sink.Create, Desired: &d}
		if err := s.Apply(testCtx(t), c); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("apply over a corrupt index: %v", err)
		}
		b, _, err := store.Get(testCtx(t), descstore.IndexKey)
		if err != nil || string(b) != string(garbage) {
			t.Fatalf("the corrupt index was replaced: %q, %v", b, err)
		}
		// The documented way out: delete it, and the next apply republishes.
		if err := store.Delete(testCtx(t), descstore.IndexKey, ""); err != nil {
			t.Fatal(err)
		}
		applyAll(t, s, plan(t, s, d))
		if got := checkIndexSets(t, store).EventIDs(); !reflect.DeepEqual(got, []string{"feed/a"}) {
			t.Fatalf("after the way out: %v", got)
		}
	})
}

// TestExistingSetsAreNotRewritten publishes events whose sets are already in the store (from
// other events with the same contract bytes): the batch lists the sets once and writes only
// the new set and the index.
func TestExistingSetsAreNotRewritten(t *testing.T) {
	backends(t, func(t *testing.T, open func() blob.Store) {
		real := open()
		applyAll(t, descriptor.New(real), plan(t, descriptor.New(real), want("feed/a", "prod", []byte("A")), want("feed/b", "prod", []byte("B"))))
		var (
			mu   sync.Mutex
			puts []string
		)
		h := &hookedStore{Store: real, beforePut: func(key string, _ []byte) error {
			mu.Lock()
			puts = append(puts, key)
			mu.Unlock()
			return nil
		}}
		s := descriptor.New(h)
		c := want("feed/c", "prod", []byte("C"))
		applyAll(t, s, plan(t, s, want("feed/a2", "prod", []byte("A")), want("feed/b2", "prod", []byte("B")), c))
		wantPuts := []string{descstore.SetKey(c.Spec.(descriptor.Spec).SHA256), descstore.IndexKey}
		if !reflect.DeepEqual(puts, wantPuts) {
			t.Fatalf("writes %v, want %v", puts, wantPuts)
		}
		if got := checkIndexSets(t, real).EventIDs(); len(got) != 5 {
			t.Fatalf("index events %v, want 5", got)
		}
	})
}
