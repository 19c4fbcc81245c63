package sink_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink"
)

// def is a kind with only a name and dependencies: the registry's ordering needs nothing else.
type def struct {
	kind string
	deps []string
}

func (d def) Kind() string                                { return d.kind }
func (d def) DependsOn() []string                         { return d.deps }
func (d def) Desire(*sink.Target) ([]sink.Desired, error) { return nil, nil }
func off(kind string, deps ...string) sink.Sink           { return sink.Disabled(def{kind, deps}, "test") }
func kinds(r *sink.Registry) string                       { return strings.Join(r.Kinds(), ",") }
func waves(r *sink.Registry) [][]string                   { return r.Waves() }
func down(kind string, deps ...string) sink.Sink {
	return sink.Unavailable(def{kind, deps}, errors.New("down"))
}
func observe(s sink.Sink) error { _, err := s.Observe(context.Background(), nil); return err }

func TestRegistryOrdersByDependencies(t *testing.T) {
	// Given in an order that puts dependents first: each kind still comes after what it needs,
	// ties keep the order given.
	r := sink.NewRegistry(off("acl", "descriptor", "topic", "user"), off("topic", "descriptor"), off("descriptor"),
		off("user"), off("table", "descriptor"))
	if got := kinds(r); got != "descriptor,topic,user,acl,table" {
		t.Fatalf("kinds %s", got)
	}
	want := [][]string{{"descriptor", "user"}, {"topic", "table"}, {"acl"}}
	if got := waves(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("waves %v, want %v", got, want)
	}
}

func TestRegistryToleratesWiringMistakes(t *testing.T) {
	// A dependency on a kind not wired is ignored; a cycle goes last, in the order given.
	r := sink.NewRegistry(off("a", "b"), off("b", "a"), off("c", "missing"))
	if got := kinds(r); got != "c,a,b" {
		t.Fatalf("kinds %s", got)
	}
	if got := waves(r); !reflect.DeepEqual(got, [][]string{{"c"}, {"a", "b"}}) {
		t.Fatalf("waves %v", got)
	}
}

func TestUnavailableAndDisabled(t *testing.T) {
	u := down("k")
	if err := observe(u); err == nil || err.Error() != "down" || sink.DisabledReason(u) != "" {
		t.Fatalf("unavailable: %v %q", err, sink.DisabledReason(u))
	}
	d := off("k")
	if err := observe(d); err == nil || sink.DisabledReason(d) != "test" {
		t.Fatalf("disabled: %v %q", err, sink.DisabledReason(d))
	}
}

func TestDiffEach(t *testing.T) {
	want := []sink.Desired{{Name: "new"}, {Name: "same"}, {Name: "gone", Absent: true}, {Name: "broken"}, {Name: "gone-already", Absent: true}}
	have := []sink.Observed{{Name: "same", Exists: true}, {Name: "new"}, {Name: "gone", Exists: true}, {Name: "broken", Err: errors.New("unreadable")}, {Name: "gone-already"}}
	d := sink.Differ{Kind: "k", What: "k: diff", DeleteReason: "removed",
		Present: func(c *sink.Change) error {
			if !c.Observed.Exists {
				c.Action = sink.Create
			}
			return nil
		}}
	cs, err := sink.DiffEach(d, want, have)
	if err != nil {
		t.Fatal(err)
	}
	got := []sink.Action{}
	for i, c := range cs {
		if c.Name != want[i].Name || c.Desired != &want[i] || c.Observed.Name != c.Name || c.Kind != "k" {
			t.Fatalf("change %d: %+v", i, c)
		}
		got = append(got, c.Action)
	}
	if w := []sink.Action{sink.Create, sink.Noop, sink.Delete, sink.Blocked, sink.Noop}; !reflect.DeepEqual(got, w) {
		t.Fatalf("actions %v, want %v", got, w)
	}
	if cs[2].Reason != "removed" || cs[3].Reason != "unreadable" {
		t.Fatalf("reasons %q %q", cs[2].Reason, cs[3].Reason)
	}
	if _, err := sink.DiffEach(d, []sink.Desired{{Name: "x"}}, nil); err == nil || !strings.Contains(err.Error(), `k: diff "x": not observed`) {
		t.Fatalf("unobserved: %v", err)
	}
	d.Present = func(*sink.Change) error { return errors.New("bad spec") }
	if _, err := sink.DiffEach(d, want[:1], have); err == nil || err.Error() != `k: diff "new": bad spec` {
		t.Fatalf("present error: %v", err)
	}
}

func TestOwnRecorded(t *testing.T) {
	live := &sink.Observed{Exists: true}
	for _, tc := range []struct {
		action   sink.Action
		recorded bool
		obs      *sink.Observed
		want     sink.Action
	}{
		{sink.Update, false, live, sink.Blocked},
		{sink.Noop, false, live, sink.Blocked},
		{sink.Delete, false, live, sink.Blocked},
		{sink.Update, true, live, sink.Update},
		{sink.Create, false, &sink.Observed{}, sink.Create},
	} {
		c := sink.Change{Kind: "k", Name: "n", Action: tc.action, Observed: tc.obs}
		sink.OwnRecorded(&c, tc.recorded)
		if c.Action != tc.want {
			t.Errorf("%s recorded=%v: %s, want %s", tc.action, tc.recorded, c.Action, tc.want)
		}
	}
}
