package state_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

func record(name string, status state.Status) state.Record {
	return state.Record{
		Event:  "feed/video_played",
		Kind:   "kafka_topic",
		Name:   name,
		Status: status,
		Time:   time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		Commit: "0123abcd",
		Hash:   "sha256:feed",
		Facts:  map[string]string{"partitions": "12"},
	}
}

func TestResourcesRoundTrip(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		ctx := t.Context()
		doc, gen, err := state.Read(ctx, store, "local")
		if err != nil {
			t.Fatal(err)
		}
		if gen != "" || len(doc.Resources) != 0 || doc.Version != state.Version {
			t.Fatalf("missing document read as %+v at %q, want empty", doc, gen)
		}
		rec := record("local.feed.video_played.v1", state.StatusOK)
		doc.Resources[rec.Key()] = rec
		gen, err = state.Write(ctx, store, "local", doc, gen)
		if err != nil {
			t.Fatal(err)
		}
		got, gotGen, err := state.Read(ctx, store, "local")
		if err != nil {
			t.Fatal(err)
		}
		if gotGen != gen {
			t.Errorf("read generation %q, Write returned %q", gotGen, gen)
		}
		if diff := cmp.Diff(doc, got); diff != "" {
			t.Errorf("round trip (-wrote +read):\n%s", diff)
		}
		if _, ok := got.Resources["kafka_topic/local.feed.video_played.v1"]; !ok {
			t.Errorf("record not under kind/name: %v", got.Resources)
		}
		// Environments are separate documents.
		other, _, err := state.Read(ctx, store, "prod")
		if err != nil || len(other.Resources) != 0 {
			t.Errorf("prod read as %+v, %v; want empty", other, err)
		}
	})
}

// TestWriteConflict has two writers read the same generation: the second write must fail with
// ErrConflict and leave the first writer's document in place.
func TestWriteConflict(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		ctx := t.Context()
		for _, start := range []string{"missing", "existing"} {
			t.Run(start, func(t *testing.T) {
				env := "env-" + start
				if start == "existing" {
					if err := state.SetRecord(ctx, store, env, record("seed", state.StatusOK)); err != nil {
						t.Fatal(err)
					}
				}
				a, genA, err := state.Read(ctx, store, env)
				if err != nil {
					t.Fatal(err)
				}
				b, genB, err := state.Read(ctx, store, env)
				if err != nil {
					t.Fatal(err)
				}
				a.Resources["kafka_topic/a"] = record("a", state.StatusOK)
				b.Resources["kafka_topic/b"] = record("b", state.StatusFailed)
				if _, err := state.Write(ctx, store, env, a, genA); err != nil {
					t.Fatalf("first writer: %v", err)
				}
				_, err = state.Write(ctx, store, env, b, genB)
				if !errors.Is(err, state.ErrConflict) || !errors.Is(err, blob.ErrPrecondition) {
					t.Fatalf("second writer: %v, want ErrConflict wrapping blob.ErrPrecondition", err)
				}
				got, _, err := state.Read(ctx, store, env)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := got.Resources["kafka_topic/b"]; ok {
					t.Error("the losing write overwrote the document")
				}
				if _, ok := got.Resources["kafka_topic/a"]; !ok {
					t.Error("the winning write is gone")
				}
			})
		}
	})
}

// TestSetRecordConcurrent records resources from many goroutines at once, as apply does:
// Update's retry must land every one of them.
func TestSetRecordConcurrent(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		const writers = 8
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				errs[i] = state.SetRecord(t.Context(), store, "local", record(fmt.Sprintf("topic-%d", i), state.StatusOK))
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}
		doc, _, err := state.Read(t.Context(), store, "local")
		if err != nil {
			t.Fatal(err)
		}
		if len(doc.Resources) != writers {
			t.Errorf("%d records, want %d: %v", len(doc.Resources), writers, doc.Resources)
		}
	})
}

func TestUpdateMutateError(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		boom := errors.New("boom")
		err := state.Update(t.Context(), store, "local", func(doc *state.Resources) error {
			doc.Resources["x/y"] = record("y", state.StatusOK)
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want the mutation's error", err)
		}
		if _, _, err := store.Get(t.Context(), "local/resources.json"); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("a failed mutation wrote the document: %v", err)
		}
	})
}

func TestCorruptAndRepair(t *testing.T) {
	cases := []struct {
		name, content, reason string
		newer                 bool
	}{
		{"not json", "{{{ nope", "not a JSON resources document", false},
		{"truncated", `{"version":1,"resources":{`, "not a JSON resources document", false},
		{"trailing data", `{"version":1,"resources":{}} {}`, "trailing data", false},
		{"no version", `{"resources":{}}`, "format version 0, want 1", false},
		{"newer version", `{"version":2,"resources":{}}`, "newer than this evctl knows", true},
	}
	onBackends(t, func(t *testing.T, store blob.Store) {
		ctx := t.Context()
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				env := fmt.Sprintf("env%d", i)
				key := env + "/resources.json"
				if _, err := store.Put(ctx, key, []byte(c.content), blob.PutOpts{}); err != nil {
					t.Fatal(err)
				}
				_, _, err := state.Read(ctx, store, env)
				var ce *state.CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("Read = %v, want a *CorruptError", err)
				}
				msg := err.Error()
				for _, want := range []string{store.URL() + "/" + key, c.reason, "evctl state repair --env " + env} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not say %q", msg, want)
					}
				}
				if ce.Newer != c.newer || strings.Contains(msg, "upgrade evctl") != c.newer {
					t.Errorf("error %q: newer = %v, want %v", msg, ce.Newer, c.newer)
				}
				if err := state.SetRecord(ctx, store, env, record("x", state.StatusOK)); !errors.As(err, &ce) {
					t.Errorf("SetRecord on a corrupt document = %v, want a *CorruptError", err)
				}

				moved, err := state.Repair(ctx, store, env)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(moved, key+".corrupt-") {
					t.Errorf("moved to %q, want %s.corrupt-<time>", moved, key)
				}
				kept, _, err := store.Get(ctx, moved)
				if err != nil || string(kept) != c.content {
					t.Errorf("copy aside = %q, %v; want the corrupt content", kept, err)
				}
				doc, _, err := state.Read(ctx, store, env)
				if err != nil || len(doc.Resources) != 0 {
					t.Errorf("after repair: %+v, %v; want an empty document", doc, err)
				}
				if err := state.SetRecord(ctx, store, env, record("x", state.StatusOK)); err != nil {
					t.Errorf("SetRecord after repair: %v", err)
				}
			})
		}
	})
}

// TestRepairLeavesHealthyAlone: repair is never a silent reset.
func TestRepairLeavesHealthyAlone(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		ctx := t.Context()
		if moved, err := state.Repair(ctx, store, "local"); moved != "" || err != nil {
			t.Errorf("repair of a missing document = %q, %v; want nothing", moved, err)
		}
		if err := state.SetRecord(ctx, store, "local", record("keep", state.StatusOK)); err != nil {
			t.Fatal(err)
		}
		if moved, err := state.Repair(ctx, store, "local"); moved != "" || err != nil {
			t.Errorf("repair of a healthy document = %q, %v; want nothing", moved, err)
		}
		doc, _, err := state.Read(ctx, store, "local")
		if err != nil || len(doc.Resources) != 1 {
			t.Errorf("after repair of a healthy document: %+v, %v", doc, err)
		}
		keys, err := store.List(ctx, "local/")
		if err != nil || len(keys) != 1 {
			t.Errorf("objects %q, %v; want only resources.json", keys, err)
		}
	})
}

func TestInvalidEnv(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		for _, env := range []string{"", "a/b", "..", ".hidden", `a\b`} {
			if _, _, err := state.Read(t.Context(), store, env); err == nil {
				t.Errorf("Read(%q): no error", env)
			}
			if _, err := state.Acquire(t.Context(), store, env, state.LockOptions{}); err == nil {
				t.Errorf("Acquire(%q): no error", env)
			}
		}
	})
}
