package apply_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
)

// TestApplyFromEmpty applies a small catalog to an empty cluster and stores, checks what state
// records, and that the next plan has nothing to do.
func TestApplyFromEmpty(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	evs := defaultEvents()
	r := newRepo(t, kc, evs)

	rep, p := r.apply(ctx, apply.Options{})
	if rep.Failed() {
		t.Fatalf("apply from empty failed: %v", notOK(rep))
	}
	want := wantResources(evs)
	if got := actionCounts(p); got[sink.Create] != len(want) || len(p.Changes) != len(want) {
		t.Fatalf("plan from empty: %v for %d resources, want all create", got, len(want))
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(want))
	}

	st := r.readState(ctx)
	var keys []string
	for k, rec := range st.Resources {
		keys = append(keys, k)
		if rec.Status != state.StatusOK || rec.Time.IsZero() || rec.Commit != "c0ffee" || rec.Hash == "" || rec.Error != "" {
			t.Errorf("record %s = %+v, want ok with time, commit, hash and no error", k, rec)
		}
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("state has %v\nwant %v", keys, want)
	}

	audit, err := state.ReadAudit(ctx, mustConn(t, r).State, "local", "")
	must(t, err)
	if len(audit) != 1 || len(audit[0].Results) != len(want) || audit[0].Who != "test" || audit[0].Commit != "c0ffee" {
		t.Fatalf("audit after one apply: %+v", audit)
	}

	p2, _ := r.plan(ctx)
	if got := actionCounts(p2); got[sink.Noop] != len(want) || p2.HasChanges() {
		t.Fatalf("re-plan: %v, want %d noop", got, len(want))
	}
	if len(p2.Drift)+len(p2.Unmanaged)+len(p2.Errors) != 0 {
		t.Fatalf("re-plan: drift %v, unmanaged %v, errors %v", p2.Drift, p2.Unmanaged, p2.Errors)
	}
}

// TestRetentionChangeIsAnUpdate changes a contract's retention: the plan shows one update with
// the SPEC's diff path, not drift, and applying it converges.
func TestRetentionChangeIsAnUpdate(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	evs := defaultEvents()
	r := newRepo(t, kc, evs)
	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}

	r.events[0].Retention = "2d"
	r.write()
	p, _ := r.plan(ctx)
	topic := "kafka_topic/" + evs[0].Topic()
	for id, c := range changes(p) {
		if id == topic || id == "kafka_dlq_topic/"+evs[0].Topic()+".dlq" { // its retention follows
			continue
		}
		if c.Action != sink.Noop {
			t.Errorf("%s: %s %v, want noop", id, c.Action, c.Diff)
		}
	}
	c := changes(p)[topic]
	wantDiff := []sink.DiffEntry{{Path: "configs.retention.ms", From: "86400000", To: "172800000"}}
	if c.Action != sink.Update || !reflect.DeepEqual(c.Diff, wantDiff) {
		t.Fatalf("%s: %s %v, want update %v", topic, c.Action, c.Diff, wantDiff)
	}
	if len(p.Drift) != 0 {
		t.Fatalf("a change in the repo reported as drift: %v", p.Drift)
	}

	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	cfgs, err := admin(t, kc).DescribeTopicConfigs(ctx, evs[0].Topic())
	must(t, err)
	rc, err := cfgs.On(evs[0].Topic(), nil)
	must(t, err)
	for _, kv := range rc.Configs {
		if kv.Key == "retention.ms" && kv.MaybeValue() != "172800000" {
			t.Fatalf("live retention.ms = %q after apply", kv.MaybeValue())
		}
	}
	if p, _ := r.plan(ctx); p.HasChanges() {
		t.Fatalf("after applying the update: %v", actionCounts(p))
	}
}

// TestDriftByHand changes live resources behind evctl's back: each shows as drift, a topic made
// by hand under the environment's prefix is unmanaged and survives an apply, even one allowed to
// destroy.
func TestDriftByHand(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	evs := defaultEvents()
	r := newRepo(t, kc, evs)
	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	adm := admin(t, kc)
	changed, deleted := evs[0].Topic(), evs[1].Topic()
	handmade := "local.feed.handmade.v1"

	res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("1234")}}, changed)
	must(t, err)
	must(t, res[0].Err)
	dres, err := adm.DeleteTopics(ctx, deleted)
	must(t, err)
	must(t, dres.Error())
	acl := kadm.NewACLs().Allow("User:analytics").AllowHosts().Topics(changed).
		ResourcePatternType(kadm.ACLPatternLiteral).Operations(kadm.OpRead)
	ares, err := adm.DeleteACLs(ctx, acl)
	must(t, err)
	if len(ares) != 1 || ares[0].Err != nil || len(ares[0].Deleted) != 1 {
		t.Fatalf("delete ACL by hand: %+v", ares)
	}
	_, err = adm.CreateTopic(ctx, 1, -1, nil, handmade)
	must(t, err)

	p, _ := r.plan(ctx)
	drift := map[string]string{}
	for _, d := range p.Drift {
		drift[d.Kind+"/"+d.Name] = d.Message
	}
	wantDrift := map[string]string{
		"kafka_topic/" + changed: `changed outside evctl: configs.retention.ms is "1234" live, "86400000" in the repo`,
		"kafka_topic/" + deleted: "deleted outside evctl since the last apply",
		"kafka_acl/" + changed:   `changed outside evctl: acl.User:analytics.READ is "" live, "allow" in the repo`,
	}
	if !reflect.DeepEqual(drift, wantDrift) {
		t.Fatalf("drift = %v\nwant %v", drift, wantDrift)
	}
	if want := "kafka_topic/" + handmade; len(p.Unmanaged) != 1 || p.Unmanaged[0].Kind+"/"+p.Unmanaged[0].Name != want {
		t.Fatalf("unmanaged = %v, want only %s", p.Unmanaged, want)
	}
	if _, ok := changes(p)["kafka_topic/"+handmade]; ok {
		t.Fatalf("the plan proposes a change to the unmanaged topic")
	}

	if rep, _ := r.apply(ctx, apply.Options{AllowDestroy: true}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	p, _ = r.plan(ctx)
	if p.HasChanges() || len(p.Drift) != 0 {
		t.Fatalf("after repairing drift: %v, drift %v", actionCounts(p), p.Drift)
	}
	topics, err := adm.ListTopics(ctx)
	must(t, err)
	if !topics.Has(handmade) {
		t.Fatalf("the unmanaged topic %s was deleted", handmade)
	}
	if len(p.Unmanaged) != 1 {
		t.Fatalf("unmanaged after apply: %v", p.Unmanaged)
	}
	if _, owned := r.readState(ctx).Resources["kafka_topic/"+handmade]; owned {
		t.Fatalf("the unmanaged topic was recorded in state")
	}
}

// TestRemovedEventNeedsAllowDestroy removes an event from the repository: the plan shows its
// resources as deletes, apply leaves them (skipped with the reason) unless allowed to destroy.
func TestRemovedEventNeedsAllowDestroy(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	evs := defaultEvents()
	r := newRepo(t, kc, evs)
	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	gone := r.events[2] // the only event of creators
	r.events = r.events[:2]
	r.write()

	p, _ := r.plan(ctx)
	cs := changes(p)
	for _, id := range []string{"descriptor/" + gone.ID(), "kafka_topic/" + gone.Topic(), "kafka_acl/" + gone.Topic(), "kafka_dlq_topic/" + gone.Topic() + ".dlq", "kafka_user/creators"} {
		if cs[id].Action != sink.Delete {
			t.Errorf("%s: %s, want delete", id, cs[id].Action)
		}
	}
	if p.Summary.Delete != 5 {
		t.Fatalf("summary %+v, want 5 deletes", p.Summary)
	}

	rep, _ := r.apply(ctx, apply.Options{})
	res := results(rep)
	for _, id := range []string{"descriptor/" + gone.ID(), "kafka_topic/" + gone.Topic(), "kafka_acl/" + gone.Topic(), "kafka_dlq_topic/" + gone.Topic() + ".dlq", "kafka_user/creators"} {
		if x := res[id]; x.Status != state.StatusSkipped || !strings.Contains(x.Error, "--allow-destroy") {
			t.Errorf("%s without --allow-destroy: %s %q, want skipped naming --allow-destroy", id, x.Status, x.Error)
		}
	}
	topics, err := admin(t, kc).ListTopics(ctx)
	must(t, err)
	if !topics.Has(gone.Topic()) {
		t.Fatalf("topic deleted without --allow-destroy")
	}

	if rep, _ := r.apply(ctx, apply.Options{AllowDestroy: true}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	topics, err = admin(t, kc).ListTopics(ctx)
	must(t, err)
	if topics.Has(gone.Topic()) {
		t.Fatalf("topic left after apply --allow-destroy")
	}
	st := r.readState(ctx)
	for k := range st.Resources {
		if strings.Contains(k, gone.Name) || k == "kafka_user/creators" {
			t.Errorf("state still records %s after its deletion", k)
		}
	}
	p, _ = r.plan(ctx)
	if p.HasChanges() || len(p.Unmanaged) != 0 {
		t.Fatalf("after deleting: %v, unmanaged %v", actionCounts(p), p.Unmanaged)
	}
}

// TestNewEventForExistingConsumer adds an event whose consumer team already reads another
// topic: the shared group entry exists live, which must not make the new topic's ACL look owned
// by someone else (blocked).
func TestNewEventForExistingConsumer(t *testing.T) {
	ctx := testCtx(t)
	evs := defaultEvents()
	r := newRepo(t, kafkatest.Start(t), evs[:1])
	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	r.events = evs[:2]
	r.write()
	p, _ := r.plan(ctx)
	if c := changes(p)["kafka_acl/"+evs[1].Topic()]; c.Action != sink.Update && c.Action != sink.Create {
		t.Fatalf("ACL of the new event: %s %q, want it applied", c.Action, c.Reason)
	}
	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	converged(t, r)
}

// TestEventSelectionBringsItsTeamUsers: `apply --event E` on an empty cluster creates E's
// descriptor, topic and ACLs and the users of E's teams (which belong to no event), and nothing
// of the other events.
func TestEventSelectionBringsItsTeamUsers(t *testing.T) {
	ctx := testCtx(t)
	evs := defaultEvents()
	r := newRepo(t, kafkatest.Start(t), evs)
	rep, _ := r.apply(ctx, apply.Options{Events: []string{evs[0].ID()}})
	if rep.Failed() {
		t.Fatal(notOK(rep))
	}
	st := r.readState(ctx)
	want := wantResources(evs[:1]) // growth and analytics users, not creators or ml
	for _, k := range want {
		if st.Resources[k].Status != state.StatusOK {
			t.Errorf("%s: %+v, want ok", k, st.Resources[k])
		}
	}
	if len(st.Resources) != len(want) {
		t.Errorf("state has %v, want only %v", keys(st), want)
	}
}

// TestDriftApplyCannotUndo adds partitions to a topic by hand: Kafka cannot take them back, so
// the plan blocks the change and still reports the drift, with the reason, and keeps reporting it
// after an apply.
func TestDriftApplyCannotUndo(t *testing.T) {
	ctx := testCtx(t)
	kc := kafkatest.Start(t)
	evs := defaultEvents()
	r := newRepo(t, kc, evs)
	if rep, _ := r.apply(ctx, apply.Options{}); rep.Failed() {
		t.Fatal(notOK(rep))
	}
	topic := evs[2].Topic()
	res, err := admin(t, kc).CreatePartitions(ctx, 2, topic)
	must(t, err)
	must(t, res.Error())

	for range 2 {
		p, _ := r.plan(ctx)
		if c := changes(p)["kafka_topic/"+topic]; c.Action != sink.Blocked {
			t.Fatalf("%s: %s, want blocked", topic, c.Action)
		}
		if len(p.Drift) != 1 || p.Drift[0].Name != topic ||
			!strings.Contains(p.Drift[0].Message, `partitions is "3" live, "1" in the repo`) ||
			!strings.Contains(p.Drift[0].Message, "apply cannot undo it") {
			t.Fatalf("drift = %+v", p.Drift)
		}
		r.apply(ctx, apply.Options{AllowDestroy: true})
	}
}
