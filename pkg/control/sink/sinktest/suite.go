// Package sinktest is the conformance suite every sink passes (STYLE.md: one shared suite every
// backend must pass), run by each sink's tests against the real server that sink talks to
// (kfake, fake-gcs-server or file://, the BigQuery emulator, Delta tables on disk). It checks the
// contract of sink.Sink that the planner and the apply engine rely on, in four parts:
//
//   - lifecycle: a new resource observes as absent, diffs to create, applies, then observes as
//     it was wanted and diffs to noop; applying the create again (a re-run after a crash) is
//     success; the same resource marked Absent diffs to delete.
//   - drift: a live resource changed outside evctl no longer diffs to noop, and says what.
//   - per-item errors: in one batch, a resource the server refuses fails alone; the others are
//     applied.
//   - ownership: a live resource this repository did not create is never changed (after the
//     kind's ownership rules, sink.Own, nothing executable is left), and it is left as it was;
//     a kind whose whole store is evctl's says so (Case.OwnsAll) and that is checked instead.
package sinktest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/control/sink"
)

// Case is one sink under test. Every func gets n, a number unique within the run, to name its
// resource so parts never collide.
type Case struct {
	Sink sink.Sink
	// New returns a wanted resource that does not exist yet, as the kind's Desire builds one.
	New func(t *testing.T, n int) sink.Desired
	// Drift changes d's live resource outside evctl (by hand, with the server's own API) so that
	// it no longer matches d.
	Drift func(t *testing.T, d sink.Desired)
	// Bad returns a wanted resource that does not exist and whose apply the server refuses (a
	// kfake fault on that one resource, a location that cannot be written, ...), while
	// resources from New in the same batch are applied. refuse, when not nil, is called after
	// the plan and before the apply, for a failure that must not show when observing (a file
	// where the table's directory goes).
	Bad func(t *testing.T, n int) (d sink.Desired, refuse func(t *testing.T))
	// Foreign makes a live resource outside evctl (by hand, or another contracts repository)
	// and returns the wanted resource with its name. Nil only with OwnsAll.
	Foreign func(t *testing.T, n int) sink.Desired
	// OwnsAll declares that every resource of the kind is evctl's (the descriptor store): the
	// suite checks that the kind's ownership rules never block a change, instead of Foreign.
	OwnsAll bool
}

// Run runs the suite on c.
func Run(t *testing.T, c Case) {
	t.Helper()
	if c.Sink == nil || c.New == nil || c.Drift == nil || c.Bad == nil || (c.Foreign == nil && !c.OwnsAll) {
		t.Fatal("sinktest: Case needs Sink, New, Drift, Bad, and Foreign unless OwnsAll")
	}
	t.Run("lifecycle", func(t *testing.T) { lifecycle(t, c) })
	t.Run("drift", func(t *testing.T) { drift(t, c) })
	t.Run("per-item errors", func(t *testing.T) { perItem(t, c) })
	t.Run("not owned", func(t *testing.T) { notOwned(t, c) })
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Plan observes and diffs want, failing t on error or on a result that does not pair one
// change with each wanted resource.
func Plan(t *testing.T, s sink.Sink, want ...sink.Desired) []sink.Change {
	t.Helper()
	have, err := s.Observe(ctxFor(t), want)
	if err != nil {
		t.Fatalf("%s: observe: %v", s.Kind(), err)
	}
	cs, err := s.Diff(want, have)
	if err != nil {
		t.Fatalf("%s: diff: %v", s.Kind(), err)
	}
	if len(cs) != len(want) {
		t.Fatalf("%s: %d changes for %d wanted resources", s.Kind(), len(cs), len(want))
	}
	for i, c := range cs {
		if c.Kind != s.Kind() || c.Name != want[i].Name || c.Desired == nil || c.Observed == nil {
			t.Fatalf("%s: change %d is %s (desired %v, observed %v), want %s/%s with both set", s.Kind(), i, c.ID(), c.Desired != nil, c.Observed != nil, s.Kind(), want[i].Name)
		}
		if c.Observed.Err != nil {
			t.Fatalf("%s: observe %s: %v", s.Kind(), c.Name, c.Observed.Err)
		}
	}
	return cs
}

// Apply applies cs the way the apply engine does (one batch when the sink batches) and returns
// one error per change.
func Apply(t *testing.T, s sink.Sink, cs []sink.Change) []error {
	t.Helper()
	if b, ok := s.(sink.BatchApplier); ok {
		errs := b.ApplyBatch(ctxFor(t), cs)
		if len(errs) != len(cs) {
			t.Fatalf("%s: ApplyBatch returned %d errors for %d changes", s.Kind(), len(errs), len(cs))
		}
		return errs
	}
	errs := make([]error, len(cs))
	for i, c := range cs {
		errs[i] = s.Apply(ctxFor(t), c)
	}
	return errs
}

func mustApply(t *testing.T, s sink.Sink, cs []sink.Change) {
	t.Helper()
	for i, err := range Apply(t, s, cs) {
		if err != nil {
			t.Fatalf("apply %s %s: %v", cs[i].Action, cs[i].ID(), err)
		}
	}
}

func want1(t *testing.T, cs []sink.Change, action sink.Action) sink.Change {
	t.Helper()
	if cs[0].Action != action {
		t.Fatalf("%s: %s (%s, diff %v), want %s", cs[0].ID(), cs[0].Action, cs[0].Reason, cs[0].Diff, action)
	}
	return cs[0]
}

func lifecycle(t *testing.T, c Case) {
	s, d := c.Sink, c.New(t, 1)
	have, err := s.Observe(ctxFor(t), []sink.Desired{d})
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	if len(have) != 1 || have[0].Exists || have[0].Err != nil || have[0].Name != d.Name {
		t.Fatalf("a new resource observes as %+v, want one absent %s", have, d.Name)
	}
	create := want1(t, Plan(t, s, d), sink.Create)
	mustApply(t, s, []sink.Change{create})

	noop := want1(t, Plan(t, s, d), sink.Noop)
	if !noop.Observed.Exists || len(noop.Diff) != 0 {
		t.Fatalf("after create: exists %v, diff %v; want it live and equal", noop.Observed.Exists, noop.Diff)
	}
	// A re-run after a crash repeats the create: what exists as wanted is success.
	mustApply(t, s, []sink.Change{create})
	want1(t, Plan(t, s, d), sink.Noop)

	gone := d
	gone.Absent, gone.Spec = true, nil
	want1(t, Plan(t, s, gone), sink.Delete)
}

func drift(t *testing.T, c Case) {
	s, d := c.Sink, c.New(t, 2)
	mustApply(t, s, Plan(t, s, d))
	want1(t, Plan(t, s, d), sink.Noop)
	c.Drift(t, d)
	ch := Plan(t, s, d)[0]
	switch ch.Action {
	case sink.Update, sink.Replace, sink.Blocked:
	default:
		t.Fatalf("after a change by hand: %s, want update, replace or blocked", ch.Action)
	}
	if len(ch.Diff) == 0 {
		t.Fatalf("after a change by hand: %s with no diff; the plan must say what differs (%s)", ch.Action, ch.Reason)
	}
}

func perItem(t *testing.T, c Case) {
	s := c.Sink
	good1, good2 := c.New(t, 3), c.New(t, 5)
	bad, refuse := c.Bad(t, 4)
	cs := Plan(t, s, good1, bad, good2)
	for _, ch := range cs {
		if ch.Action != sink.Create {
			t.Fatalf("%s: %s (%s), want create", ch.ID(), ch.Action, ch.Reason)
		}
	}
	if refuse != nil {
		refuse(t)
	}
	errs := Apply(t, s, cs)
	if errs[1] == nil {
		t.Fatalf("%s: applied, want the server's refusal", cs[1].ID())
	}
	t.Logf("%s refused: %v", cs[1].ID(), errs[1])
	for _, i := range []int{0, 2} {
		if errs[i] != nil {
			t.Fatalf("%s failed with %v: one resource's failure must not fail the others", cs[i].ID(), errs[i])
		}
	}
	for _, d := range []sink.Desired{good1, good2} {
		want1(t, Plan(t, s, d), sink.Noop)
	}
}

func notOwned(t *testing.T, c Case) {
	s := c.Sink
	none := func(string, string) bool { return false }
	if c.OwnsAll {
		d := c.New(t, 6)
		mustApply(t, s, Plan(t, s, d))
		c.Drift(t, d)
		ch := Plan(t, s, d)[0]
		before := ch.Action
		sink.Own(s, &ch, sink.Ownership{Recorded: false, Owns: none})
		if ch.Action != before {
			t.Fatalf("a kind whose store is evctl's turned %s into %s (%s)", before, ch.Action, ch.Reason)
		}
		return
	}
	d := c.Foreign(t, 6)
	have, err := s.Observe(ctxFor(t), []sink.Desired{d})
	if err != nil || len(have) != 1 || !have[0].Exists {
		t.Fatalf("Foreign must make a live resource: observed %+v, %v", have, err)
	}
	ch := Plan(t, s, d)[0]
	sink.Own(s, &ch, sink.Ownership{Recorded: false, Owns: none})
	switch ch.Action {
	case sink.Create, sink.Update, sink.Replace, sink.Delete:
		t.Fatalf("a resource this repository did not create: %s (%s), want it left alone", ch.Action, ch.Reason)
	}
	gone := d
	gone.Absent, gone.Spec = true, nil
	del := Plan(t, s, gone)[0]
	sink.Own(s, &del, sink.Ownership{Recorded: false, Owns: none})
	if del.Action == sink.Delete {
		t.Fatalf("a resource this repository did not create is deleted")
	}
	after, err := s.Observe(ctxFor(t), []sink.Desired{d})
	if err != nil || !reflect.DeepEqual(after, have) {
		t.Fatalf("the foreign resource changed: %s", fmt.Sprint(have, " → ", after, " ", err))
	}
}
