package delta_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// TestSparkCommitBetweenReadAndWrite: a Spark job commits version 1 (an appended file) after
// evctl read version 0 and before it writes version 1. evctl's put-if-absent loses, it re-reads
// and commits its new schema at version 2, and Spark's commit survives untouched.
func TestSparkCommitBetweenReadAndWrite(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			store := b.open(t)
			converge(t, newSink(store), desired(spec(t, "staging", v1)), sink.Create)

			spark := `{"commitInfo":{"operation":"WRITE","engineInfo":"Apache-Spark/3.5.0 Delta-Lake/3.3.0"}}
{"add":{"path":"event_date=2026-11-01/part-00000.snappy.parquet","partitionValues":{},"size":1,"modificationTime":1,"dataChange":true}}
`
			hooked := &hookStore{Store: store, before: func(key string) {
				if strings.HasSuffix(key, "/_delta_log/00000000000000000001.json") {
					if _, err := store.Put(t.Context(), key, []byte(spark), blob.PutOpts{IfNotExist: true}); err != nil {
						t.Errorf("spark commit: %v", err)
					}
				}
			}}
			s := newSink(hooked)
			converge(t, s, desired(spec(t, "staging", v2)), sink.Update)

			got, _, err := store.Get(t.Context(), deltalog.CommitKey(loc, 1))
			if err != nil || string(got) != spark {
				t.Errorf("version 1 is no longer Spark's commit: %q, %v", got, err)
			}
			snap, err := deltalog.Read(t.Context(), store, loc)
			if err != nil {
				t.Fatal(err)
			}
			if snap.Version != 2 || snap.NumFiles != 1 {
				t.Errorf("version %d with %d files, want 2 with Spark's 1 file", snap.Version, snap.NumFiles)
			}
			if _, ok := fieldOf(snap.Schema, "tags"); !ok {
				t.Error("evctl's new column is missing")
			}
		})
	}
}

// TestUpdateGivesUp: a writer that wins every version makes Apply stop after MaxAttempts with
// a conflict error, having overwritten nothing.
func TestUpdateGivesUp(t *testing.T) {
	store := fileStore(t)
	converge(t, newSink(store), desired(spec(t, "staging", v1)), sink.Create)
	hooked := &hookStore{Store: store, before: func(key string) {
		store.Put(t.Context(), key, []byte(`{"add":{"path":"x-`+key[len(key)-7:len(key)-5]+`","partitionValues":{},"size":1,"modificationTime":1,"dataChange":true}}`+"\n"), blob.PutOpts{IfNotExist: true})
	}}
	s := delta.New(hooked, base, delta.Options{MaxAttempts: 3})
	c := plan(t, s, desired(spec(t, "staging", v2)))
	err := s.Apply(t.Context(), c)
	if !errors.Is(err, deltalog.ErrConflict) || !strings.Contains(err.Error(), "attempt 3 of 3") {
		t.Fatalf("error %v, want a conflict after 3 attempts", err)
	}
	snap, _ := deltalog.Read(t.Context(), store, loc)
	if snap.Version != 3 || snap.NumFiles != 3 {
		t.Errorf("version %d, %d files; want the other writer's 3 commits", snap.Version, snap.NumFiles)
	}
}

// v3 adds a column to v2; v4 one more to v3.
const v3 = `message M {
  optional string video_id = 1 [(evctl.options.v1.required) = true];
  optional int64 watch_ms = 2;
  D device = 3;
  message D { optional string model = 1; optional string os = 2; }
  repeated string tags = 4;
  optional string extra = 5;
` + platform + `}`
const v4 = `message M {
  optional string video_id = 1 [(evctl.options.v1.required) = true];
  optional int64 watch_ms = 2;
  D device = 3;
  message D { optional string model = 1; optional string os = 2; }
  repeated string tags = 4;
  optional string extra = 5;
  optional string more = 6;
` + platform + `}`

// TestConcurrentEvolve: two evctl applies race to commit the same version. Exactly one commit
// lands per change: with the same change, the loser re-reads, finds it done, and writes
// nothing; with a superset change it commits the rest at the next version.
func TestConcurrentEvolve(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			store := b.open(t)
			converge(t, newSink(store), desired(spec(t, "staging", v1)), sink.Create)

			// Same change from two appliers: one commit.
			for _, err := range race(t, store, desired(spec(t, "staging", v2)), desired(spec(t, "staging", v2))) {
				if err != nil {
					t.Errorf("racing apply: %v", err)
				}
			}
			if vs, _ := deltalog.Versions(t.Context(), store, loc); len(vs) != 2 {
				t.Errorf("versions %v after two identical evolves, want [0 1]", vs)
			}
			// A change and its superset (v3 adds a column to v2) racing for version 2: whoever
			// wins, the other re-reads. The superset then commits version 3; the subset finds a
			// column it does not want and reports the conflict instead of dropping it.
			errs := race(t, store, desired(spec(t, "staging", v3)), desired(spec(t, "staging", v4)))
			snap, err := deltalog.Read(t.Context(), store, loc)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case errs[0] == nil && errs[1] == nil:
				if snap.Version != 3 {
					t.Errorf("both applied, version %d, want 3", snap.Version)
				}
			case errs[0] != nil && errors.Is(errs[0], delta.ErrChanged) && errs[1] == nil:
				if snap.Version != 2 {
					t.Errorf("subset lost, version %d, want 2", snap.Version)
				}
			default:
				t.Errorf("outcome %v", errs)
			}
			if _, ok := fieldOf(snap.Schema, "more"); !ok {
				t.Error("the superset's column is missing")
			}
		})
	}
}

// TestInterleavedEvolve forces both orders of two evctl applies racing for one version.
func TestInterleavedEvolve(t *testing.T) {
	for _, order := range []string{"subset first", "superset first"} {
		t.Run(order, func(t *testing.T) {
			store := fileStore(t)
			converge(t, newSink(store), desired(spec(t, "staging", v1)), sink.Create)
			first, second := desired(spec(t, "staging", v2)), desired(spec(t, "staging", v3))
			if order == "superset first" {
				first, second = second, first
			}
			// second plans and reads version 0; first applies completely before second writes.
			hooked := &hookStore{Store: store, before: func(key string) {
				if strings.HasSuffix(key, "00000000000000000001.json") {
					s := newSink(store)
					if err := s.Apply(t.Context(), plan(t, s, first)); err != nil {
						t.Errorf("first apply: %v", err)
					}
				}
			}}
			s := newSink(hooked)
			err := s.Apply(t.Context(), plan(t, s, second))
			snap, rerr := deltalog.Read(t.Context(), store, loc)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if order == "subset first" {
				// The superset re-reads and commits its extra column at version 2.
				if err != nil || snap.Version != 2 {
					t.Errorf("superset after subset: %v, version %d; want success at 2", err, snap.Version)
				}
				return
			}
			// The subset re-reads, finds a column it does not want: conflict, nothing written.
			if !errors.Is(err, delta.ErrChanged) || !strings.Contains(err.Error(), "column extra is in the table") || snap.Version != 1 {
				t.Errorf("subset after superset: %v, version %d; want ErrChanged and version 1", err, snap.Version)
			}
		})
	}
}

// race plans both desired tables against the same live table, then applies them at once.
func race(t *testing.T, store blob.Store, a, b sink.Desired) []error {
	t.Helper()
	sa, sb := newSink(store), newSink(store)
	ca, cb := plan(t, sa, a), plan(t, sb, b)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, run := range []func() error{
		func() error { return sa.Apply(t.Context(), ca) },
		func() error { return sb.Apply(t.Context(), cb) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = run()
		}()
	}
	wg.Wait()
	return errs
}
