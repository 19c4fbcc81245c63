package state_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

func auditRecord(at time.Time, events ...string) state.AuditRecord {
	rec := state.AuditRecord{Time: at, Who: "ci@runner pid 7", Commit: "abc123"}
	for _, e := range events {
		rec.Changes = append(rec.Changes, state.AuditChange{Event: e, Kind: "kafka_topic", Name: "local." + e, Action: "create"})
		rec.Results = append(rec.Results, state.AuditResult{Event: e, Kind: "kafka_topic", Name: "local." + e, Status: state.StatusOK})
	}
	return rec
}

func TestAuditOrderAndFilter(t *testing.T) {
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	onBackends(t, func(t *testing.T, store blob.Store) {
		ctx := t.Context()
		// Appended out of order, with times differing only in the last nanosecond digits,
		// where a name sorted as RFC3339Nano (trailing zeros trimmed) would go wrong.
		appends := []state.AuditRecord{
			auditRecord(base.Add(time.Second), "feed/a"),
			auditRecord(base.Add(10*time.Nanosecond), "feed/a", "feed/b"),
			auditRecord(base.Add(time.Nanosecond), "feed/b"),
			auditRecord(base.Add(100*time.Nanosecond), "feed/c"),
		}
		stored := make([]state.AuditRecord, len(appends))
		for i, rec := range appends {
			var err error
			if stored[i], err = state.AppendAudit(ctx, store, "local", rec); err != nil {
				t.Fatal(err)
			}
			if stored[i].ID == "" || stored[i].Env != "local" {
				t.Errorf("stored record %+v lacks id or env", stored[i])
			}
		}
		cases := []struct {
			event string
			want  []int // indexes into stored, in the expected order
		}{
			{"", []int{2, 1, 3, 0}},
			{"feed/a", []int{1, 0}},
			{"feed/b", []int{2, 1}},
			{"feed/none", nil},
		}
		for _, c := range cases {
			got, err := state.ReadAudit(ctx, store, "local", c.event)
			if err != nil {
				t.Fatal(err)
			}
			var want []state.AuditRecord
			for _, i := range c.want {
				want = append(want, stored[i])
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ReadAudit(%q) (-want +got):\n%s", c.event, diff)
			}
		}
		if other, err := state.ReadAudit(ctx, store, "prod", ""); err != nil || len(other) != 0 {
			t.Errorf("prod audit = %v, %v; want none", other, err)
		}
	})
}

// TestAuditConcurrentAppends: one object per record, so appends at the same instant from
// many writers all survive.
func TestAuditConcurrentAppends(t *testing.T) {
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	onBackends(t, func(t *testing.T, store blob.Store) {
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = state.AppendAudit(t.Context(), store, "local", auditRecord(at, fmt.Sprintf("feed/e%d", i)))
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("append %d: %v", i, err)
			}
		}
		got, err := state.ReadAudit(t.Context(), store, "local", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d records, want %d", len(got), n)
		}
		for i := 1; i < n; i++ {
			if got[i-1].ID >= got[i].ID {
				t.Errorf("records with equal times not ordered by id: %q before %q", got[i-1].ID, got[i].ID)
			}
		}
	})
}

func TestAuditCorruptRecord(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		key := "local/audit/2026-11-01T10:00:00.000000000Z-x.json"
		if _, err := store.Put(t.Context(), key, []byte("nope"), blob.PutOpts{}); err != nil {
			t.Fatal(err)
		}
		_, err := state.ReadAudit(t.Context(), store, "local", "")
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("ReadAudit = %v, want an error naming %s", err, key)
		}
	})
}
