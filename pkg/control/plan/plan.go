// Package plan computes what an apply would do in one environment: desired resources from the
// compiled contracts, live state observed through each sink (batched), a diff per resource, and
// the rules of SPEC section 4 layered on top (ownership, destroy protection, breaking changes,
// drift, unmanaged resources). A Plan is a value: rendered, saved, and executed by pkg/apply.
package plan

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
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
	// UnmanagedPrefix is the name prefix of the environment's topics (from the naming template),
	// listed to find unmanaged ones; empty skips the listing.
	UnmanagedPrefix string
}

// Build observes every kind and diffs it against what is wanted.
func Build(ctx context.Context, reg *sink.Registry, want map[string][]sink.Desired, opts Options) (*Plan, error) {
	st := opts.State
	if st == nil {
		st = state.NewResources()
	}
	p := &Plan{Env: opts.Env, Changes: []sink.Change{}, Breaking: []Breaking{}, Drift: []Drift{}, Unmanaged: []Unmanaged{}}
	ourTopics := map[string]bool{} // topics this state owns or this plan creates
	for _, kind := range KindOrder {
		ds := append([]sink.Desired(nil), want[kind]...)
		ds = append(ds, absent(kind, ds, st)...)
		if len(ds) == 0 {
			continue
		}
		s := reg.Get(kind)
		if s == nil || sink.DisabledReason(s) != "" {
			reason := kind + " is not configured for this environment"
			if s != nil {
				reason = sink.DisabledReason(s)
			}
			for i := range ds {
				p.Changes = append(p.Changes, sink.Change{Event: ds[i].Event, Kind: kind, Name: ds[i].Name, Action: sink.Skipped,
					Diff: []sink.DiffEntry{}, Reason: reason, Desired: &ds[i]})
			}
			continue
		}
		have, err := s.Observe(ctx, ds)
		if err != nil {
			p.Errors = append(p.Errors, fmt.Sprintf("%s: %v", kind, err))
			for i := range ds {
				// The Observed carries the error so apply records these resources failed (the
				// system is down: a failure to retry), not skipped for a reason of their own.
				obs := &sink.Observed{Kind: kind, Name: ds[i].Name, Err: err}
				p.Changes = append(p.Changes, sink.Change{Event: ds[i].Event, Kind: kind, Name: ds[i].Name, Action: sink.Skipped,
					Diff: []sink.DiffEntry{}, Reason: "cannot read live state: " + err.Error(), Desired: &ds[i], Observed: obs})
			}
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
			rec, owned := st.Resources[state.ResourceKey(kind, c.Name)]
			if kind == kafka.KindTopic && (owned || c.Action == sink.Create) {
				ourTopics[c.Name] = true
			}
			// A topic's ACL entries are ours when the topic is: its live shape also holds the
			// consumers' group entries, which other topics share, so "it exists" is no sign of
			// another owner (without this a new event for an existing consumer team is blocked).
			aclOwned := kind == kafka.KindACL && ourTopics[c.Name]
			applyOwnership(c, owned || aclOwned)
			p.Drift = append(p.Drift, drift(c, rec, owned)...)
		}
		p.Changes = append(p.Changes, changes...)
		if l, ok := s.(sink.Lister); ok && opts.UnmanagedPrefix != "" {
			names, err := l.List(ctx, opts.UnmanagedPrefix)
			if err != nil {
				p.Errors = append(p.Errors, fmt.Sprintf("%s: list: %v", kind, err))
			}
			wanted := map[string]bool{}
			for _, d := range ds {
				wanted[d.Name] = true
			}
			for _, n := range names {
				if _, owned := st.Resources[state.ResourceKey(kind, n)]; !owned && !wanted[n] {
					p.Unmanaged = append(p.Unmanaged, Unmanaged{Kind: kind, Name: n})
				}
			}
		}
	}
	keepSharedUsers(p.Changes, ourTopics)
	p.Summary = summarize(p.Changes)
	return p, nil
}

// keepSharedUsers skips deleting a team user this repository created but no longer needs while
// it still holds ACLs on topics this repository does not own: another contracts repository on
// the cluster (or a person) grants the team access, and deleting the user would cut it off.
func keepSharedUsers(cs []sink.Change, ours map[string]bool) {
	for i := range cs {
		c := &cs[i]
		if c.Kind != kafka.KindUser || c.Action != sink.Delete || c.Observed == nil {
			continue
		}
		st, _ := c.Observed.Spec.(kafka.UserState)
		var others []string
		for _, t := range st.ACLTopics {
			if !ours[t] {
				others = append(others, t)
			}
		}
		if len(others) == 0 {
			continue
		}
		list := strings.Join(others[:min(3, len(others))], ", ")
		if len(others) > 3 {
			list += fmt.Sprintf(" and %d more", len(others)-3)
		}
		c.Action = sink.Skipped
		c.Reason = fmt.Sprintf("user %s still has ACLs on topics this repository does not manage (%s): another contracts repo or a person grants the team access, so it is kept", c.Name, list)
	}
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

// applyOwnership blocks changes to live resources this state did not create: another contracts
// repository or a person made them, and evctl only changes what it owns. The descriptor store is
// evctl's alone. A resource recorded as pending was being created by a crashed apply: it is ours.
func applyOwnership(c *sink.Change, owned bool) {
	if owned || c.Kind == "descriptor" || c.Observed == nil || !c.Observed.Exists {
		return
	}
	if c.Kind == kafka.KindUser && c.Action == sink.Noop {
		// A user is a team's, not a repository's: every contracts repo on the cluster whose
		// events name the team wants the same user. Blocking it here would skip every ACL that
		// names the team, so a second repo could never grant access. It is used as it is: never
		// changed, deleted or recorded in this state (apply does not record unowned noops).
		reason := fmt.Sprintf("user %s exists and was not created by this repository (made by hand or by another contracts repo); users are per team, so it is used as is and never changed or deleted here", c.Name)
		if c.Reason != "" {
			reason += "; " + c.Reason
		}
		c.Reason = reason
		return
	}
	switch c.Action {
	case sink.Update, sink.Replace, sink.Delete, sink.Noop:
		c.Action = sink.Blocked
		c.Reason = fmt.Sprintf("%s %s exists but was not created by this repository's evctl state (made by hand or by another contracts repo); evctl never changes what it does not own", c.Kind, c.Name)
	}
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
