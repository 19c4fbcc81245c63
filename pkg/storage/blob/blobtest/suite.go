package blobtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// Run is the conformance suite every blob.Store backend passes. newStore returns an empty
// store for one subtest; Run closes it.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	cases := []struct {
		name string
		test func(t *testing.T, s blob.Store)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"List", testList},
		{"Delete", testDelete},
		{"CreateOnly", testCreateOnly},
		{"CompareAndSwap", testCompareAndSwap},
		{"BadArguments", testBadArguments},
		{"ConcurrentCAS", testConcurrentCAS},
		{"ConcurrentCreateOnly", testConcurrentCreateOnly},
		{"ConcurrentIncrements", testConcurrentIncrements},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			c.test(t, s)
		})
	}
}

func mustPut(t *testing.T, s blob.Store, key, data string, opts blob.PutOpts) blob.Gen {
	t.Helper()
	gen, err := s.Put(t.Context(), key, []byte(data), opts)
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	if gen == "" {
		t.Fatalf("put %q: empty generation", key)
	}
	return gen
}

// wantContent fails the test unless key holds data at generation gen ("" skips that check).
func wantContent(t *testing.T, s blob.Store, key, data string, gen blob.Gen) {
	t.Helper()
	got, gotGen, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	if string(got) != data {
		t.Errorf("get %q = %q, want %q", key, got, data)
	}
	if gen != "" && gotGen != gen {
		t.Errorf("get %q: generation %q, want %q (the one Put returned)", key, gotGen, gen)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func testGetMissing(t *testing.T, s blob.Store) {
	for _, key := range []string{"missing.json", "no/such/dir/x"} {
		_, _, err := s.Get(t.Context(), key)
		wantErr(t, "get "+key, err, blob.ErrNotExist)
	}
	mustPut(t, s, "file", "x", blob.PutOpts{})
	_, _, err := s.Get(t.Context(), "file/below") // a parent that is an object
	wantErr(t, "get file/below", err, blob.ErrNotExist)
}

func testPutGet(t *testing.T, s blob.Store) {
	cases := []struct{ key, data string }{
		{"top.json", `{"a":1}`},
		{"env/resources.json", `{"version":1}`},
		{"a/b/c/d/deep.binpb", "\x00\x01binary\xff"},
		{"empty", ""},
	}
	for _, c := range cases {
		gen := mustPut(t, s, c.key, c.data, blob.PutOpts{})
		wantContent(t, s, c.key, c.data, gen)

		// Overwrite: new content, new generation, even when the content repeats.
		gen2 := mustPut(t, s, c.key, c.data+"v2", blob.PutOpts{})
		if gen2 == gen {
			t.Errorf("%q: overwrite kept generation %q", c.key, gen)
		}
		wantContent(t, s, c.key, c.data+"v2", gen2)
		gen3 := mustPut(t, s, c.key, c.data, blob.PutOpts{})
		if gen3 == gen2 {
			t.Errorf("%q: overwrite kept generation %q", c.key, gen2)
		}
		_, again, err := s.Get(t.Context(), c.key)
		if err != nil || again != gen3 {
			t.Errorf("%q: generation %q (%v) on a re-read, want %q", c.key, again, err, gen3)
		}
	}
}

func testList(t *testing.T, s blob.Store) {
	keys := []string{
		"local/resources.json",
		"local/lock.json",
		"local/audit/2026-01-01T00:00:00.000000001Z-a.json",
		"local/audit/2026-01-01T00:00:00.000000002Z-b.json",
		"localx/resources.json",
		"prod/resources.json",
		"top",
	}
	for _, k := range keys {
		mustPut(t, s, k, k, blob.PutOpts{})
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{keys[2], keys[3], keys[1], keys[0], keys[4], keys[5], keys[6]}},
		{"local/", []string{keys[2], keys[3], keys[1], keys[0]}},
		{"local", []string{keys[2], keys[3], keys[1], keys[0], keys[4]}},
		{"local/audit/", []string{keys[2], keys[3]}},
		{"local/aud", []string{keys[2], keys[3]}},
		{"local/audit/2026-01-01T00:00:00.000000002Z", []string{keys[3]}},
		{"local/resources.json", []string{keys[0]}},
		{"staging/", nil},
		{"nothing", nil},
	}
	for _, c := range cases {
		got, err := s.List(t.Context(), c.prefix)
		if err != nil {
			t.Fatalf("list %q: %v", c.prefix, err)
		}
		if diff := cmp.Diff(c.want, got, cmpEmpty); diff != "" {
			t.Errorf("list %q (-want +got):\n%s", c.prefix, diff)
		}
	}
}

// cmpEmpty treats a nil and an empty list as equal: "no keys" either way.
var cmpEmpty = cmp.FilterValues(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

func testDelete(t *testing.T, s blob.Store) {
	ctx := t.Context()
	wantErr(t, "delete missing", s.Delete(ctx, "nope/x", ""), blob.ErrNotExist)

	gen := mustPut(t, s, "d/obj", "one", blob.PutOpts{})
	gen2 := mustPut(t, s, "d/obj", "two", blob.PutOpts{})
	wantErr(t, "delete with a stale generation", s.Delete(ctx, "d/obj", gen), blob.ErrPrecondition)
	wantContent(t, s, "d/obj", "two", gen2)

	if err := s.Delete(ctx, "d/obj", gen2); err != nil {
		t.Fatalf("delete with the current generation: %v", err)
	}
	_, _, err := s.Get(ctx, "d/obj")
	wantErr(t, "get after delete", err, blob.ErrNotExist)
	wantErr(t, "conditional delete of a deleted object", s.Delete(ctx, "d/obj", gen2), blob.ErrNotExist)

	mustPut(t, s, "d/obj", "three", blob.PutOpts{})
	if err := s.Delete(ctx, "d/obj", ""); err != nil {
		t.Fatalf("unconditional delete: %v", err)
	}
	wantErr(t, "delete twice", s.Delete(ctx, "d/obj", ""), blob.ErrNotExist)
	got, err := s.List(ctx, "d/")
	if err != nil || len(got) != 0 {
		t.Errorf("list after delete = %q, %v; want nothing", got, err)
	}
}

func testCreateOnly(t *testing.T, s blob.Store) {
	gen := mustPut(t, s, "env/lock.json", "first", blob.PutOpts{IfNotExist: true})
	_, err := s.Put(t.Context(), "env/lock.json", []byte("second"), blob.PutOpts{IfNotExist: true})
	wantErr(t, "create-only over an existing object", err, blob.ErrPrecondition)
	wantContent(t, s, "env/lock.json", "first", gen)

	if err := s.Delete(t.Context(), "env/lock.json", gen); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "env/lock.json", "third", blob.PutOpts{IfNotExist: true})
	wantContent(t, s, "env/lock.json", "third", "")
}

func testCompareAndSwap(t *testing.T, s blob.Store) {
	ctx := t.Context()
	_, err := s.Put(ctx, "cas", []byte("x"), blob.PutOpts{IfGen: "1"})
	wantErr(t, "CAS on a missing object", err, blob.ErrPrecondition)
	if _, _, err := s.Get(ctx, "cas"); !errors.Is(err, blob.ErrNotExist) {
		t.Fatalf("failed CAS created the object: %v", err)
	}

	gen1 := mustPut(t, s, "cas", "v1", blob.PutOpts{})
	gen2 := mustPut(t, s, "cas", "v2", blob.PutOpts{IfGen: gen1})
	wantContent(t, s, "cas", "v2", gen2)

	_, err = s.Put(ctx, "cas", []byte("lost"), blob.PutOpts{IfGen: gen1})
	wantErr(t, "CAS with a stale generation", err, blob.ErrPrecondition)
	_, err = s.Put(ctx, "cas", []byte("lost"), blob.PutOpts{IfGen: "not-a-generation"})
	wantErr(t, "CAS with a foreign generation", err, blob.ErrPrecondition)
	wantContent(t, s, "cas", "v2", gen2)
}

func testBadArguments(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for _, key := range []string{"", "/abs", "a//b", "a/", "../up", "a/./b", ".hidden", "a/.lock", `a\b`} {
		if _, err := s.Put(ctx, key, []byte("x"), blob.PutOpts{}); err == nil {
			t.Errorf("put %q: no error for an invalid key", key)
		}
		if _, _, err := s.Get(ctx, key); err == nil || errors.Is(err, blob.ErrNotExist) {
			t.Errorf("get %q: error %v, want an invalid-key error", key, err)
		}
	}
	for _, prefix := range []string{"/", "../", "a/../", "/abs", "a//"} {
		if keys, err := s.List(ctx, prefix); err == nil {
			t.Errorf("list %q = %q: no error for a prefix reaching outside the store", prefix, keys)
		}
	}
	_, err := s.Put(ctx, "k", []byte("x"), blob.PutOpts{IfGen: "1", IfNotExist: true})
	if err == nil || errors.Is(err, blob.ErrPrecondition) {
		t.Errorf("put with both conditions: error %v, want a usage error", err)
	}
}

// testConcurrentCAS races N writers that all read the same generation: exactly one wins each
// round, and the losers see ErrPrecondition.
func testConcurrentCAS(t *testing.T, s blob.Store) {
	const writers, rounds = 8, 3
	gen := mustPut(t, s, "race/obj", "start", blob.PutOpts{})
	for round := range rounds {
		var wg sync.WaitGroup
		results := make([]error, writers)
		gens := make([]blob.Gen, writers)
		for i := range writers {
			wg.Go(func() {
				gens[i], results[i] = s.Put(t.Context(), "race/obj", []byte(fmt.Sprintf("r%d-w%d", round, i)), blob.PutOpts{IfGen: gen})
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range results {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both won", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, blob.ErrPrecondition):
				t.Fatalf("round %d writer %d: %v, want ErrPrecondition", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer won", round)
		}
		wantContent(t, s, "race/obj", fmt.Sprintf("r%d-w%d", round, winner), gens[winner])
		gen = gens[winner]
	}
}

func testConcurrentCreateOnly(t *testing.T, s blob.Store) {
	const writers = 8
	var wg sync.WaitGroup
	results := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			_, results[i] = s.Put(t.Context(), "once/lock.json", []byte(strconv.Itoa(i)), blob.PutOpts{IfNotExist: true})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range results {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both created the object", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, blob.ErrPrecondition):
			t.Fatalf("writer %d: %v, want ErrPrecondition", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer created the object")
	}
	wantContent(t, s, "once/lock.json", strconv.Itoa(winner), "")
}

// testConcurrentIncrements has N writers each add to a counter through read-CAS-retry: a lost
// update would show as a short total.
func testConcurrentIncrements(t *testing.T, s blob.Store) {
	const writers, each = 6, 5
	mustPut(t, s, "counter", "0", blob.PutOpts{})
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			for range each {
				if err := Increment(t.Context(), s, "counter"); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	wantContent(t, s, "counter", strconv.Itoa(writers*each), "")
}

// Increment adds one to the decimal counter stored at key with a compare-and-swap loop. It is
// exported for backends' tests that race increments from other processes.
func Increment(ctx context.Context, s blob.Store, key string) error {
	for {
		data, gen, err := s.Get(ctx, key)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(data))
		if err != nil {
			return fmt.Errorf("counter %q: %w", data, err)
		}
		_, err = s.Put(ctx, key, []byte(strconv.Itoa(n+1)), blob.PutOpts{IfGen: gen})
		if errors.Is(err, blob.ErrPrecondition) {
			continue
		}
		return err
	}
}
