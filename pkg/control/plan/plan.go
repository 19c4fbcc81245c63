// Package plan computes what an apply would do in one environment: desired resources from the
// compiled contracts, live state observed through each sink (batched), a diff per resource, and
// the rules of SPEC section 4 layered on top (ownership, destroy protection, breaking changes,
// drift, unmanaged resources). A Plan is a value: rendered, saved, and executed by pkg/apply.
//
// It knows no resource kind by name: each kind builds its own wanted resources (sink.Def), names
// the kinds it depends on (the order kinds are planned and applied in), and owns its ownership
// rules (sink.Owner); Build runs them generically over the sink.Registry it is given.
package plan

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/state"
)

// Plan is the JSON shape of `evctl plan -o json` (SPEC section 4).
type Plan struct {
	Env       string        `json:"env"`
	Changes   []sink.Change `json:"changes"`
	Breaking  []Breaking    `json:"breaking"`
	Drift     []Drift       `json:"drift"`
	Unmanaged []Unmanaged   `json:"unmanaged"`
	Summary   Summary       `json:"summary"`
	// Errors are resources that could not be observed; a plan with errors exits 1.
	Errors []string `json:"errors,omitempty"`
}

// Breaking is one breaking-change finding that blocks an event.
type Breaking struct {
	Event   string `json:"event"`
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Drift is a difference between live and the last apply that the repository did not ask for.
type Drift struct {
	Event   string `json:"event"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Unmanaged is a live resource under the managed naming that this state does not own.
type Unmanaged struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Summary counts changes by action.
type Summary struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Replace int `json:"replace"`
	Delete  int `json:"delete"`
	Blocked int `json:"blocked"`
	Noop    int `json:"noop"`
	Skipped int `json:"skipped"`
}

// HasChanges reports whether applying would change anything.
func (p *Plan) HasChanges() bool {
	s := p.Summary
	return s.Create+s.Update+s.Replace+s.Delete+s.Blocked > 0
}

// Blocked reports whether any change is blocked.
func (p *Plan) Blocked() bool { return p.Summary.Blocked > 0 }

// Options tune Build.
type Options struct {
	Env string
	// State is the environment's last recorded state (nil: empty).
	State *state.Resources
	// Target, when set, is the environment kinds list their live resources in (sink.Lister), to
	// report the ones this state does not own (unmanaged); nil skips the listing.
	Target *sink.Target
}

// Desire builds every registered kind's wanted resources in t's environment, by kind.
func Desire(reg *sink.Registry, t *sink.Target) (map[string][]sink.Desired, error) {
	out := map[string][]sink.Desired{}
	for _, kind := range reg.Kinds() {
		ds, err := reg.Get(kind).Desire(t)
		if err != nil {
			return nil, err
		}
		if len(ds) > 0 {
			out[kind] = ds
		}
	}
	return out, nil
}

// Build observes every kind and diffs it against what is wanted, then applies each kind's
// ownership rules (sink.Own) and reports drift. Kinds are taken in the registry's order (each
// after the kinds it depends on). It knows no kind by name.
func Build(ctx context.Context, reg *sink.Registry, want map[string][]sink.Desired, opts Options) (*Plan, error) {
	st := opts.State
	if st == nil {
		st = state.NewResources()
	}
	p := &Plan{Env: opts.Env, Changes: []sink.Change{}, Breaking: []Breaking{}, Drift: []Drift{}, Unmanaged: []Unmanaged{}}
	var diffed []int // indexes into p.Changes of changes a sink's Diff made
	for _, kind := range reg.Kinds() {
		ds, s := kindToPlan(p, reg, want, st, kind)
		if s == nil {
			continue
		}
		have, err := s.Observe(ctx, ds)
		if err != nil {
			unreadable(p, kind, ds, err)
			continue
		}
		changes, err := s.Diff(ds, have)
		if err != nil {
			return nil, fmt.Errorf("plan: diff %s: %w", kind, err)
		}
		for i := range changes {
			c := &changes[i]
			if c.Diff == nil {
				c.Diff = []sink.DiffEntry{}
			}
			if c.Observed != nil && c.Observed.Err != nil {
				p.Errors = append(p.Errors, fmt.Sprintf("%s %s: %v", kind, c.Name, c.Observed.Err))
			}
			diffed = append(diffed, len(p.Changes)+i)
		}
		p.Changes = append(p.Changes, changes...)
		p.Unmanaged = append(p.Unmanaged, unmanaged(ctx, s, ds, st, opts.Target, p)...)
	}
	own(p, reg, st, diffed)
	return p, nil
}

// kindToPlan returns kind's desired resources (those wanted, then those recorded and no longer
// wanted) and its sink; the sink is nil when there is nothing to plan: no resources, or a
// disabled sink, whose resources it adds to p as skipped.
func kindToPlan(p *Plan, reg *sink.Registry, want map[string][]sink.Desired, st *state.Resources, kind string) ([]sink.Desired, sink.Sink) {
	ds := append([]sink.Desired(nil), want[kind]...)
	ds = append(ds, absent(kind, ds, st)...)
	if len(ds) == 0 {
		return nil, nil
	}
	s := reg.Get(kind)
	if reason := sink.DisabledReason(s); reason != "" {
		for i := range ds {
			p.Changes = append(p.Changes, sink.Change{Event: ds[i].Event, Kind: kind, Name: ds[i].Name, Action: sink.Skipped,
				Diff: []sink.DiffEntry{}, Reason: reason, Desired: &ds[i]})
		}
		return nil, nil
	}
	return ds, s
}

// own settles ownership and drift of the diffed changes and sums the plan up. It runs once
// every kind is diffed: a kind's rules may ask about another kind's resources (a topic's ACLs
// are ours when the topic is), whichever order they were planned in.
func own(p *Plan, reg *sink.Registry, st *state.Resources, diffed []int) {
	created := map[string]bool{}
	for _, i := range diffed {
		if c := p.Changes[i]; c.Action == sink.Create {
			created[c.ID()] = true
		}
	}
	owns := func(kind, name string) bool {
		_, rec := st.Resources[state.ResourceKey(kind, name)]
		return rec || created[sink.Ref(kind, name)]
	}
	for _, i := range diffed {
		c := &p.Changes[i]
		rec, recorded := st.Resources[state.ResourceKey(c.Kind, c.Name)]
		sink.Own(reg.Get(c.Kind), c, sink.Ownership{Recorded: recorded, Owns: owns})
		p.Drift = append(p.Drift, drift(c, rec, recorded)...)
	}
	p.Summary = summarize(p.Changes)
}

// unmanaged lists the live resources of s's kind under the environment's naming that this
// state does not own and nothing wants; a failed listing is one of p's errors.
func unmanaged(ctx context.Context, s sink.Sink, ds []sink.Desired, st *state.Resources, t *sink.Target, p *Plan) []Unmanaged {
	l, ok := s.(sink.Lister)
	if !ok || t == nil {
		return nil
	}
	names, err := l.ListManaged(ctx, t)
	if err != nil {
		p.Errors = append(p.Errors, fmt.Sprintf("%s: list: %v", s.Kind(), err))
	}
	wanted := map[string]bool{}
	for _, d := range ds {
		wanted[d.Name] = true
	}
	var out []Unmanaged
	for _, n := range names {
		if _, owned := st.Resources[state.ResourceKey(s.Kind(), n)]; !owned && !wanted[n] {
			out = append(out, Unmanaged{Kind: s.Kind(), Name: n})
		}
	}
	return out
}

// absent returns deletion candidates: resources this state owns of kind that nothing wants now.
func absent(kind string, want []sink.Desired, st *state.Resources) []sink.Desired {
	wanted := map[string]bool{}
	for _, d := range want {
		wanted[d.Name] = true
	}
	var out []sink.Desired
	keys := make([]string, 0)
	for k, r := range st.Resources {
		if r.Kind == kind && !wanted[r.Name] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := st.Resources[k]
		out = append(out, sink.Desired{Event: r.Event, Kind: kind, Name: r.Name, Absent: true})
	}
	return out
}

// drift reports live changes to resources whose wanted spec has not changed since the last apply.
func drift(c *sink.Change, rec state.Record, owned bool) []Drift {
	if !owned || c.Desired == nil || c.Desired.Absent || rec.Hash != c.Desired.Hash {
		return nil
	}
	// The hash is recorded only by a successful apply, so an equal one means this spec was live
	// once. A resource skipped since (as a blocked one is by every apply) is still drift.
	if rec.Status != state.StatusOK && !(rec.Status == state.StatusSkipped && c.Action == sink.Blocked) {
		return nil
	}
	switch c.Action {
	case sink.Create:
		return []Drift{{Event: c.Event, Kind: c.Kind, Name: c.Name, Message: "deleted outside evctl since the last apply"}}
	case sink.Update, sink.Replace:
		return []Drift{{Event: c.Event, Kind: c.Kind, Name: c.Name, Message: "changed outside evctl: " + diffText(c.Diff)}}
	case sink.Noop:
		// A sink reports a difference apply cannot act on (a column added to a BigQuery table
		// by hand) as a noop that keeps its diff: drift, never a change apply claims to make.
		if len(c.Diff) > 0 {
			return []Drift{{Event: c.Event, Kind: c.Kind, Name: c.Name, Message: "changed outside evctl: " + diffText(c.Diff) + "; apply cannot undo it: " + c.Reason}}
		}
	case sink.Blocked:
		// Changed by hand in a way apply cannot undo (partitions added to a topic, a column's type
		// changed in a prod table): still drift, with the reason it stays.
		if len(c.Diff) > 0 && (c.Observed == nil || c.Observed.Err == nil) {
			return []Drift{{Event: c.Event, Kind: c.Kind, Name: c.Name, Message: "changed outside evctl: " + diffText(c.Diff) + "; apply cannot undo it: " + c.Reason}}
		}
	}
	return nil
}

func diffText(diff []sink.DiffEntry) string {
	parts := make([]string, 0, len(diff))
	for _, d := range diff {
		parts = append(parts, fmt.Sprintf("%s is %q live, %q in the repo", d.Path, d.From, d.To))
	}
	return strings.Join(parts, ", ")
}

func summarize(cs []sink.Change) Summary {
	var s Summary
	for _, c := range cs {
		switch c.Action {
		case sink.Create:
			s.Create++
		case sink.Update:
			s.Update++
		case sink.Replace:
			s.Replace++
		case sink.Delete:
			s.Delete++
		case sink.Blocked:
			s.Blocked++
		case sink.Noop:
			s.Noop++
		case sink.Skipped:
			s.Skipped++
		}
	}
	return s
}

// unreadable records every desired resource of a kind whose live state could not be read as
// skipped. The Observed carries the error so apply records these resources failed (the system
// is down: a failure to retry), not skipped for a reason of their own.
func unreadable(p *Plan, kind string, ds []sink.Desired, err error) {
	p.Errors = append(p.Errors, fmt.Sprintf("%s: %v", kind, err))
	for i := range ds {
		obs := &sink.Observed{Kind: kind, Name: ds[i].Name, Err: err}
		p.Changes = append(p.Changes, sink.Change{Event: ds[i].Event, Kind: kind, Name: ds[i].Name, Action: sink.Skipped,
			Diff: []sink.DiffEntry{}, Reason: "cannot read live state: " + err.Error(), Desired: &ds[i], Observed: obs})
	}
}
