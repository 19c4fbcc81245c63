package state_test

import (
	"testing"

	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// TestUpdaterKeepsOtherWriters updates through an Updater, which writes from its cached
// document: a record written behind its back makes its compare-and-swap fail, and it re-reads
// and keeps that record instead of overwriting it; an update that changes nothing writes
// nothing.
func TestUpdaterKeepsOtherWriters(t *testing.T) {
	onBackends(t, func(t *testing.T, store blob.Store) {
		ctx := t.Context()
		doc, gen, err := state.Read(ctx, store, "local")
		if err != nil {
			t.Fatal(err)
		}
		u := state.NewUpdater(store, "local", doc, gen)
		set := func(rec state.Record) func(*state.Resources) error {
			return func(d *state.Resources) error { d.Resources[rec.Key()] = rec; return nil }
		}
		a, b, c := record("a", state.StatusPending), record("b", state.StatusOK), record("c", state.StatusOK)
		if err := u.Update(ctx, set(a)); err != nil {
			t.Fatal(err)
		}
		if err := state.SetRecord(ctx, store, "local", b); err != nil { // another writer
			t.Fatal(err)
		}
		a.Status = state.StatusOK
		if err := u.Update(ctx, set(a)); err != nil {
			t.Fatal(err)
		}
		if err := u.Update(ctx, set(c)); err != nil {
			t.Fatal(err)
		}
		_, before, err := state.Read(ctx, store, "local")
		if err != nil {
			t.Fatal(err)
		}
		if err := u.Update(ctx, func(*state.Resources) error { return state.ErrUnchanged }); err != nil {
			t.Fatal(err)
		}
		got, after, err := state.Read(ctx, store, "local")
		if err != nil {
			t.Fatal(err)
		}
		if before != after {
			t.Errorf("an unchanged update wrote: generation %s → %s", before, after)
		}
		for _, want := range []state.Record{a, b, c} {
			if r, ok := got.Resources[want.Key()]; !ok || r.Status != want.Status {
				t.Errorf("record %s = %+v (present %v), want status %s", want.Key(), r, ok, want.Status)
			}
		}
	})
}
