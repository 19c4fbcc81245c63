package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/data/counterstore"
)

// Run runs the suite; open returns a new, empty store for each subtest (the suite closes it).
func Run(t *testing.T, open func(t *testing.T) counterstore.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s counterstore.Store)
	}{
		{"UnseenIsZero", unseenIsZero},
		{"ApplyReturnsOldAndNew", applyReturnsOldAndNew},
		{"ReplayIsSkipped", replayIsSkipped},
		{"ScopesAreIndependent", scopesAreIndependent},
		{"OutboxKeptWithFence", outboxKeptWithFence},
		{"CountersAreIndependent", countersAreIndependent},
		{"NegativeAndLarge", negativeAndLarge},
		{"BigWindow", bigWindow},
		{"ConcurrentScopes", concurrentScopes},
		{"OddKeys", oddKeys},
		{"PeakSurvivesAFall", peakSurvivesAFall},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			c.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustApply(t *testing.T, s counterstore.Store, b counterstore.Batch) counterstore.Result {
	t.Helper()
	r, err := s.Apply(ctx(t), b)
	if err != nil {
		t.Fatalf("apply %s@%d: %v", b.Scope, b.Offset, err)
	}
	return r
}

func mustGet(t *testing.T, s counterstore.Store, counter string, keys ...string) []int64 {
	t.Helper()
	v, err := s.Get(ctx(t), counter, keys)
	if err != nil {
		t.Fatalf("get %s %v: %v", counter, keys, err)
	}
	if len(v) != len(keys) {
		t.Fatalf("get %s: %d values for %d keys", counter, len(v), len(keys))
	}
	return v
}

func wantValues(t *testing.T, s counterstore.Store, counter string, want map[string]int64) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	got := mustGet(t, s, counter, keys...)
	for i, k := range keys {
		if got[i] != want[k] {
			t.Errorf("%s/%s = %d, want %d", counter, k, got[i], want[k])
		}
	}
}

func unseenIsZero(t *testing.T, s counterstore.Store) {
	wantValues(t, s, "post_likes", map[string]int64{"nobody": 0, "": 0})
	f, err := s.Fence(ctx(t), "g/t/0")
	if err != nil {
		t.Fatal(err)
	}
	if f.Offset != -1 || len(f.Outbox) != 0 {
		t.Fatalf("fence of an unseen scope = %+v, want offset -1 and no outbox", f)
	}
	if v := mustGet(t, s, "post_likes"); len(v) != 0 {
		t.Fatalf("get of no keys = %v", v)
	}
}

func applyReturnsOldAndNew(t *testing.T, s counterstore.Store) {
	r := mustApply(t, s, counterstore.Batch{Scope: "g/t/0", Prev: -1, Offset: 9, Increments: []counterstore.Increment{
		{Counter: "post_likes", Key: "p1", Delta: 3}, {Counter: "post_likes", Key: "p2", Delta: 1},
	}})
	want := []counterstore.Change{{Counter: "post_likes", Key: "p1", Old: 0, New: 3}, {Counter: "post_likes", Key: "p2", Old: 0, New: 1}}
	if !r.Applied || fmt.Sprint(r.Changes) != fmt.Sprint(want) {
		t.Fatalf("first apply = %+v, want applied %v", r, want)
	}
	r = mustApply(t, s, counterstore.Batch{Scope: "g/t/0", Prev: 9, Offset: 20, Increments: []counterstore.Increment{
		{Counter: "post_likes", Key: "p1", Delta: 5},
	}})
	if !r.Applied || fmt.Sprint(r.Changes) != fmt.Sprint([]counterstore.Change{{Counter: "post_likes", Key: "p1", Old: 3, New: 8, Peak: 3}}) {
		t.Fatalf("second apply = %+v", r)
	}
	wantValues(t, s, "post_likes", map[string]int64{"p1": 8, "p2": 1})
	f, err := s.Fence(ctx(t), "g/t/0")
	if err != nil || f.Offset != 20 || fmt.Sprint(f.Values) != "[8]" {
		t.Fatalf("fence = %+v, %v; want offset 20 and the last write's values [8]", f, err)
	}
}

func replayIsSkipped(t *testing.T, s counterstore.Store) {
	b := counterstore.Batch{Scope: "g/t/1", Prev: -1, Offset: 100, Increments: []counterstore.Increment{{Counter: "c", Key: "k", Delta: 7}}, Outbox: []byte("first")}
	mustApply(t, s, b)
	// The same window again (a replay after a crash), an older one, and a writer that expects a
	// fence another writer has since moved (a zombie after a rebalance): none applies.
	for _, c := range []struct{ prev, off int64 }{{-1, 100}, {-1, 99}, {50, 120}, {99, 200}} {
		b.Prev, b.Offset, b.Outbox = c.prev, c.off, []byte("replay")
		if r := mustApply(t, s, b); r.Applied || len(r.Changes) != 0 {
			t.Fatalf("batch expecting fence %d applied over fence 100: %+v", c.prev, r)
		}
	}
	wantValues(t, s, "c", map[string]int64{"k": 7})
	f, _ := s.Fence(ctx(t), "g/t/1")
	if f.Offset != 100 || string(f.Outbox) != "first" {
		t.Fatalf("a skipped replay changed the fence: %+v", f)
	}
	// A window with no increments still moves the fence (a window whose events were all
	// filtered), and a batch may keep the fence where it is (only windows closed, no new records).
	if r := mustApply(t, s, counterstore.Batch{Scope: "g/t/1", Prev: 100, Offset: 150}); !r.Applied {
		t.Fatalf("empty window not applied: %+v", r)
	}
	if f, _ := s.Fence(ctx(t), "g/t/1"); f.Offset != 150 {
		t.Fatalf("empty window fence = %d", f.Offset)
	}
	if r := mustApply(t, s, counterstore.Batch{Scope: "g/t/1", Prev: 150, Offset: 150, Increments: []counterstore.Increment{{Counter: "c", Key: "k", Delta: 1}}}); !r.Applied {
		t.Fatalf("batch at the same fence not applied: %+v", r)
	}
	wantValues(t, s, "c", map[string]int64{"k": 8})
}

func scopesAreIndependent(t *testing.T, s counterstore.Store) {
	mustApply(t, s, counterstore.Batch{Scope: "g/t/0", Prev: -1, Offset: 50, Increments: []counterstore.Increment{{Counter: "c", Key: "k", Delta: 1}}})
	// Partition 1 at a lower offset is not fenced by partition 0.
	r := mustApply(t, s, counterstore.Batch{Scope: "g/t/1", Prev: -1, Offset: 5, Increments: []counterstore.Increment{{Counter: "c", Key: "k", Delta: 1}}})
	if !r.Applied || r.Changes[0].Old != 1 || r.Changes[0].New != 2 {
		t.Fatalf("other scope: %+v", r)
	}
	// Another group's scope over the same partition is independent too.
	if r := mustApply(t, s, counterstore.Batch{Scope: "h/t/0", Prev: -1, Offset: 1}); !r.Applied {
		t.Fatal("another group's scope was fenced")
	}
}

func outboxKeptWithFence(t *testing.T, s counterstore.Store) {
	box := make([]byte, 70_000)
	for i := range box {
		box[i] = byte(i) // every byte value, and NULs: the outbox is binary
	}
	mustApply(t, s, counterstore.Batch{Scope: "g/t/2", Prev: -1, Offset: 3, Outbox: box})
	f, err := s.Fence(ctx(t), "g/t/2")
	if err != nil || f.Offset != 3 || string(f.Outbox) != string(box) {
		t.Fatalf("outbox not kept: offset %d, %d bytes, err %v", f.Offset, len(f.Outbox), err)
	}
	mustApply(t, s, counterstore.Batch{Scope: "g/t/2", Prev: 3, Offset: 4})
	if f, _ := s.Fence(ctx(t), "g/t/2"); len(f.Outbox) != 0 || len(f.Values) != 0 {
		t.Fatalf("a batch without an outbox left the old one: %d bytes", len(f.Outbox))
	}
}

func countersAreIndependent(t *testing.T, s counterstore.Store) {
	mustApply(t, s, counterstore.Batch{Scope: "g/t/0", Prev: -1, Offset: 1, Increments: []counterstore.Increment{
		{Counter: "likes", Key: "p", Delta: 2}, {Counter: "views", Key: "p", Delta: 30},
	}})
	wantValues(t, s, "likes", map[string]int64{"p": 2})
	wantValues(t, s, "views", map[string]int64{"p": 30})
}

func negativeAndLarge(t *testing.T, s counterstore.Store) {
	r := mustApply(t, s, counterstore.Batch{Scope: "g/t/0", Prev: -1, Offset: 1, Increments: []counterstore.Increment{
		{Counter: "c", Key: "neg", Delta: -5}, {Counter: "c", Key: "big", Delta: 1 << 52},
	}})
	if r.Changes[0].New != -5 || r.Changes[1].New != 1<<52 {
		t.Fatalf("changes: %+v", r.Changes)
	}
	// Beyond 2^53 a float would round: the store keeps int64 exactly.
	mustApply(t, s, counterstore.Batch{Scope: "g/t/0", Prev: 1, Offset: 2, Increments: []counterstore.Increment{{Counter: "c", Key: "big", Delta: 1<<52 + 1}}})
	wantValues(t, s, "c", map[string]int64{"neg": -5, "big": 1<<53 + 1})
}

func bigWindow(t *testing.T, s counterstore.Store) {
	const n = 20_000
	incs := make([]counterstore.Increment, n)
	for i := range incs {
		incs[i] = counterstore.Increment{Counter: "c", Key: fmt.Sprintf("k%d", i), Delta: int64(i%7 + 1)}
	}
	r := mustApply(t, s, counterstore.Batch{Scope: "g/t/0", Prev: -1, Offset: 1, Increments: incs})
	if len(r.Changes) != n {
		t.Fatalf("%d changes for %d increments", len(r.Changes), n)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = incs[i].Key
	}
	got := mustGet(t, s, "c", keys...)
	f, err := s.Fence(ctx(t), "g/t/0")
	if err != nil || len(f.Values) != n {
		t.Fatalf("fence kept %d values for %d increments: %v", len(f.Values), n, err)
	}
	for i := range got {
		if f.Values[i] != incs[i].Delta {
			t.Fatalf("fence value %d = %d, want %d", i, f.Values[i], incs[i].Delta)
		}
		if got[i] != incs[i].Delta || r.Changes[i].New != incs[i].Delta || r.Changes[i].Key != incs[i].Key {
			t.Fatalf("key %d: got %d, change %+v, want %d", i, got[i], r.Changes[i], incs[i].Delta)
		}
	}
}

func concurrentScopes(t *testing.T, s counterstore.Store) {
	const workers, windows = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < windows; i++ {
				r, err := s.Apply(ctx(t), counterstore.Batch{Scope: fmt.Sprintf("g/t/%d", w), Prev: int64(i - 1), Offset: int64(i),
					Increments: []counterstore.Increment{{Counter: "c", Key: "shared", Delta: 1}, {Counter: "c", Key: fmt.Sprint(w), Delta: 1}}})
				if err == nil && !r.Applied {
					err = fmt.Errorf("scope %d window %d not applied", w, i)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantValues(t, s, "c", map[string]int64{"shared": workers * windows, "0": windows, "3": windows})
}

func oddKeys(t *testing.T, s counterstore.Store) {
	keys := []string{"", "a b", "ünï", "with/slash", "with:colon", "x\x00y", "{braces}"}
	incs := make([]counterstore.Increment, len(keys))
	for i, k := range keys {
		incs[i] = counterstore.Increment{Counter: "odd:counter", Key: k, Delta: int64(i + 1)}
	}
	mustApply(t, s, counterstore.Batch{Scope: "g/t/0", Prev: -1, Offset: 1, Increments: incs})
	got := mustGet(t, s, "odd:counter", keys...)
	for i := range keys {
		if got[i] != int64(i+1) {
			t.Errorf("key %q = %d, want %d", keys[i], got[i], i+1)
		}
	}
	// A counter whose name is a prefix of another's shares nothing with it.
	wantValues(t, s, "odd", map[string]int64{"": 0, "a b": 0})
}

// peakSurvivesAFall: a key's peak (the highest value before an increment) is kept across falls,
// exactly also above 2^53 and below zero, returned by Apply and kept with the fence, so a
// milestone is crossed once even when a signed sum takes the value down and up again.
func peakSurvivesAFall(t *testing.T, s counterstore.Store) {
	steps := []struct {
		delta          int64
		old, new, peak int64
	}{
		{1000, 0, 1000, 0},
		{-10, 1000, 990, 1000},
		{20, 990, 1010, 1000},
		{-500, 1010, 510, 1010},
		{600, 510, 1110, 1010},
		{5, 1110, 1115, 1110},
		{-2000, 1115, -885, 1115},
		{-100, -885, -985, 1115},
		{1<<53 + 1, -985, 1<<53 - 984, 1115},
		{-1, 1<<53 - 984, 1<<53 - 985, 1<<53 - 984},
		{1, 1<<53 - 985, 1<<53 - 984, 1<<53 - 984},
	}
	for i, st := range steps {
		r := mustApply(t, s, counterstore.Batch{Scope: "g/t/0", Prev: int64(i) - 1, Offset: int64(i), Increments: []counterstore.Increment{
			{Counter: "c", Key: "k", Delta: st.delta}, {Counter: "c", Key: "up", Delta: 1}}})
		want := []counterstore.Change{{Counter: "c", Key: "k", Old: st.old, New: st.new, Peak: st.peak},
			{Counter: "c", Key: "up", Old: int64(i), New: int64(i + 1), Peak: int64(i)}}
		if !r.Applied || fmt.Sprint(r.Changes) != fmt.Sprint(want) {
			t.Fatalf("step %d: %+v, want %+v", i, r.Changes, want)
		}
		f, err := s.Fence(ctx(t), "g/t/0")
		if err != nil {
			t.Fatal(err)
		}
		wantPeak := int64(counterstore.NoPeak)
		if st.peak > st.old {
			wantPeak = st.peak
		}
		if fmt.Sprint(f.Values) != fmt.Sprint([]int64{st.new, int64(i + 1)}) || fmt.Sprint(f.Peaks) != fmt.Sprint([]int64{wantPeak, counterstore.NoPeak}) {
			t.Fatalf("step %d: fence values %v peaks %v, want [%d %d] [%d NoPeak]", i, f.Values, f.Peaks, st.new, i+1, wantPeak)
		}
	}
}
