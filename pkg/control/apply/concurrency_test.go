package apply_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
)

// TestLockHeld: an apply while another holds the environment changes nothing and names the
// holder.
func TestLockHeld(t *testing.T) {
	ctx := testCtx(t)
	r := newRepo(t, kafkatest.Start(t), defaultEvents())
	_, conn := r.plan(ctx)
	lock, err := state.Acquire(ctx, conn.State, "local", state.LockOptions{Holder: "ci-job-42"})
	must(t, err)

	_, err = r.tryApply(ctx, apply.Options{})
	var locked *state.LockedError
	if !errors.As(err, &locked) || locked.Info.Holder != "ci-job-42" || !strings.Contains(err.Error(), "ci-job-42") {
		t.Fatalf("apply under a held lock: %v, want a LockedError naming ci-job-42", err)
	}
	if st := r.readState(ctx); len(st.Resources) != 0 {
		t.Fatalf("a locked-out apply recorded %d resources", len(st.Resources))
	}
	must(t, lock.Release(ctx))
	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
}

// TestConcurrentStateWriteIsKept writes state behind the apply's back, between its execution
// and its recording of results: the apply's compare-and-swap write re-reads and keeps the other
// writer's record instead of overwriting it.
func TestConcurrentStateWriteIsKept(t *testing.T) {
	ctx := testCtx(t)
	r := newRepo(t, kafkatest.Start(t), defaultEvents())
	_, conn := r.plan(ctx)
	foreign := state.Record{Event: "other/event", Kind: "kafka_topic", Name: "written.meanwhile", Status: state.StatusOK}
	var once sync.Once
	rep, _ := r.apply(ctx, apply.Options{Progress: func(apply.Result) {
		once.Do(func() { must(t, state.SetRecord(ctx, conn.State, "local", foreign)) })
	}})
	if rep.Failed() {
		t.Fatal(notOK(rep))
	}
	st := r.readState(ctx)
	if _, ok := st.Resources[foreign.Key()]; !ok {
		t.Fatalf("the concurrent record was overwritten by the apply")
	}
	for _, k := range wantResources(r.events) {
		if st.Resources[k].Status != state.StatusOK {
			t.Errorf("%s: %+v, want ok", k, st.Resources[k])
		}
	}
}

// TestTwoAppliesAtOnce runs two applies of different events concurrently: the lock serialises
// them (the loser gets a LockedError and runs again), and neither loses the other's records.
func TestTwoAppliesAtOnce(t *testing.T) {
	ctx := testCtx(t)
	evs := defaultEvents()
	r := newRepo(t, kafkatest.Start(t), evs)
	groups := [][]string{{evs[0].ID(), "team/growth", "team/analytics"}, {evs[2].ID(), "team/creators", "team/ml"}}
	var wg sync.WaitGroup
	errs := make([]error, len(groups))
	for i, g := range groups {
		wg.Go(func() {
			rep, err := r.tryApply(ctx, apply.Options{Events: g})
			if err == nil && rep.Failed() {
				err = errors.New(strings.Join(notOK(rep), "; "))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		var locked *state.LockedError
		switch {
		case errors.As(err, &locked):
			if rep, _ := r.apply(ctx, apply.Options{Events: groups[i]}); rep.Failed() {
				t.Fatal(notOK(rep))
			}
		case err != nil:
			t.Fatalf("apply %v: %v", groups[i], err)
		}
	}
	st := r.readState(ctx)
	for _, k := range wantResources([]event{evs[0], evs[2]}) {
		if st.Resources[k].Status != state.StatusOK {
			t.Errorf("%s: %+v, want ok", k, st.Resources[k])
		}
	}
}

// TestTwoRepositoriesShareACluster applies two contracts repositories (two state and descriptor
// stores, the same cluster and topic prefix, the same teams): neither changes, deletes or
// records the other's topics or ACLs; a topic both want is blocked for the second; team users
// made by the first are used as is by the second (never recorded, so never deleted by it).
func TestTwoRepositoriesShareACluster(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	evs := defaultEvents()
	shared := evs[1]
	onlyB := event{Domain: "ads", Name: "ad_shown", Partitions: 1, Retention: "1d", Producers: []string{"growth"}, Consumers: []string{"ml"}}
	a := newRepo(t, kc, evs)
	b := newRepo(t, kc, []event{onlyB, {Domain: shared.Domain, Name: shared.Name, Partitions: shared.Partitions, Retention: "1d",
		Producers: []string{"creators"}, Consumers: []string{"ml"}}})
	if rep, _ := a.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}

	pb, _ := b.plan(ctx)
	cs := changes(pb)
	if c := cs["kafka_topic/"+shared.Topic()]; c.Action != sink.Blocked || !strings.Contains(c.Reason, "was not created by this repository") {
		t.Fatalf("the shared topic for B: %s %q, want blocked for ownership", c.Action, c.Reason)
	}
	for _, u := range []string{"growth", "ml", "creators"} {
		if c := cs["kafka_user/"+u]; c.Action != sink.Noop || !strings.Contains(c.Reason, "users are per team") {
			t.Errorf("user %s for B: %s %q, want a noop with the reason", u, c.Action, c.Reason)
		}
	}
	if c := cs["kafka_topic/"+onlyB.Topic()]; c.Action != sink.Create {
		t.Fatalf("B's own topic: %s", c.Action)
	}
	unmanaged := map[string]bool{}
	for _, u := range pb.Unmanaged {
		unmanaged[u.Name] = true
	}
	if !unmanaged[evs[0].Topic()] || !unmanaged[evs[2].Topic()] || !unmanaged[evs[0].Topic()+".dlq"] || !unmanaged[evs[2].Topic()+".dlq"] || unmanaged[shared.Topic()] || len(unmanaged) != 4 {
		t.Fatalf("B's unmanaged: %v, want A's other two topics and their dead-letter topics", pb.Unmanaged)
	}

	repB, _ := b.apply(ctx, apply.Options{AllowDestroy: true})
	for id, x := range results(repB) {
		switch id {
		case "kafka_topic/" + shared.Topic(), "kafka_acl/" + shared.Topic(), "kafka_dlq_topic/" + shared.Topic() + ".dlq":
			if x.Status != state.StatusSkipped {
				t.Errorf("B %s: %s %q, want skipped", id, x.Status, x.Error)
			}
		default:
			if x.Status != state.StatusOK {
				t.Errorf("B %s: %s %q, want ok", id, x.Status, x.Error)
			}
		}
	}
	stB := b.readState(ctx)
	for k := range stB.Resources {
		if strings.HasPrefix(k, "kafka_user/") || strings.Contains(k, shared.Name+".") {
			t.Errorf("B recorded %s, which it does not own", k)
		}
	}

	// A still sees exactly what it applied; B's topic is unmanaged for A.
	pa, _ := a.plan(ctx)
	if pa.HasChanges() || len(pa.Drift) != 0 {
		t.Fatalf("A after B's apply: %v, drift %v", actionCounts(pa), pa.Drift)
	}
	if len(pa.Unmanaged) != 2 || pa.Unmanaged[0].Name != onlyB.Topic() || pa.Unmanaged[1].Name != onlyB.Topic()+".dlq" {
		t.Fatalf("A's unmanaged: %v, want B's topic and its dead-letter topic", pa.Unmanaged)
	}

	// B drops all its events, destroy allowed: only B's own resources go.
	b.events = nil
	b.write()
	repB, pb = b.apply(ctx, apply.Options{AllowDestroy: true})
	if repB.Failed() {
		t.Fatal(notOK(repB))
	}
	for _, c := range pb.Changes {
		// B's descriptors are in B's own store: deleting them is B's business.
		if c.Action == sink.Delete && c.Kind != "descriptor" && c.Event != onlyB.ID() {
			t.Errorf("B deletes %s, which is A's", c.ID())
		}
	}
	pa, _ = a.plan(ctx)
	if pa.HasChanges() || len(pa.Drift) != 0 || len(pa.Unmanaged) != 0 {
		t.Fatalf("A after B removed everything: %v, drift %v, unmanaged %v", actionCounts(pa), pa.Drift, pa.Unmanaged)
	}
}

// TestSharedUserOutlivesItsCreator: repo A creates the team users; repo B grants two of those
// teams access to its own topic. When A drops every event (destroy allowed), it deletes only the
// user nobody else grants anything to, keeps the two B relies on (skipped, with the reason), and
// B's plan stays clean.
func TestSharedUserOutlivesItsCreator(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	evs := defaultEvents()
	onlyB := event{Domain: "ads", Name: "ad_shown", Partitions: 1, Retention: "1d", Producers: []string{"growth"}, Consumers: []string{"ml"}}
	a := newRepo(t, kc, evs)
	b := newRepo(t, kc, []event{onlyB})
	if rep, _ := a.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	if rep, _ := b.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}

	a.events = nil
	a.write()
	rep, pa := a.apply(ctx, apply.Options{AllowDestroy: true})
	if rep.Failed() {
		t.Fatal(notOK(rep))
	}
	cs := changes(pa)
	for _, u := range []string{"growth", "ml"} {
		if c := cs["kafka_user/"+u]; c.Action != sink.Skipped || !strings.Contains(c.Reason, onlyB.Topic()) {
			t.Errorf("A's plan for user %s: %s %q, want skipped naming %s", u, c.Action, c.Reason, onlyB.Topic())
		}
	}
	for _, u := range []string{"analytics", "creators"} {
		if c := cs["kafka_user/"+u]; c.Action != sink.Delete {
			t.Errorf("A's plan for user %s: %s %q, want delete", u, c.Action, c.Reason)
		}
	}
	users, err := admin(t, kc).DescribeUserSCRAMs(ctx)
	must(t, err)
	for u, want := range map[string]bool{"growth": true, "ml": true, "analytics": false, "creators": false} {
		if _, live := users[u]; live != want {
			t.Errorf("user %s live = %v after A's apply, want %v", u, live, want)
		}
	}
	if pb, _ := b.plan(ctx); pb.HasChanges() || len(pb.Drift) != 0 {
		t.Fatalf("B after A removed everything: %v, drift %v", actionCounts(pb), pb.Drift)
	}
}
