package plan

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/state"
)

// Refresh says how much of the live systems a plan reads.
type Refresh string

const (
	// RefreshFull observes every wanted resource (what Build does): every drift is seen.
	RefreshFull Refresh = "full"
	// RefreshFast observes in full only what the repository changed since the last apply (a
	// resource not recorded ok with its current hash) and, for the rest, what a cheap batched
	// read shows: the listing of a kind that lists its live names (sink.Lister: a resource
	// missing from it was deleted outside evctl) and the whole of the kinds a plan reads in one
	// request (FastOptions.ObserveAll). Resources of the other kinds that the repository did not
	// change are taken as they were applied (noop), as Terraform's -refresh=false takes state.
	RefreshFast Refresh = "fast"
)

// ParseRefresh parses a --refresh value.
func ParseRefresh(s string) (Refresh, error) {
	switch Refresh(s) {
	case RefreshFull, RefreshFast:
		return Refresh(s), nil
	}
	return "", fmt.Errorf("plan: --refresh %q: want fast or full", s)
}

// FastOptions tune BuildFast.
type FastOptions struct {
	Options
	// ObserveAll are the kinds observed in full even when unchanged: those whose Observe is one
	// or two requests whatever the number of resources (ACLs, users, the descriptor index).
	ObserveAll map[string]bool
	// Lite are the resources ("kind/name") whose Desired has no Spec (taken from the planner's
	// cache): before one is observed, Resolve replaces it.
	Lite map[string]bool
	// Resolve returns the complete wanted resources of the given events, by "kind/name".
	Resolve func(ctx context.Context, events []string) (map[string]sink.Desired, error)
}

// BuildFast is Build that reads less of the live systems (RefreshFast). For every resource it
// observes, the change is what Build gives; a resource it does not observe is a noop, as Build
// gives for a resource nobody changed by hand. So, with no drift outside what it reads, its plan
// is Build's, change for change, in the same order.
func BuildFast(ctx context.Context, reg *sink.Registry, want map[string][]sink.Desired, opts FastOptions) (*Plan, error) {
	st := opts.State
	if st == nil {
		st = state.NewResources()
	}
	p := &Plan{Env: opts.Env, Changes: []sink.Change{}, Breaking: []Breaking{}, Drift: []Drift{}, Unmanaged: []Unmanaged{}}
	// Each kind is read and diffed on its own goroutine: the reads are a few requests each to
	// different systems (or, for Kafka, pipelined on one client), so a plan waits for the
	// slowest rather than for their sum. The kinds' parts are put together in registry order,
	// as one after the other would have made them. The planner's cache (Lite, Resolve) is
	// shared, so its use is serialised.
	kinds := reg.Kinds()
	parts := make([]*kindPart, len(kinds))
	var mu sync.Mutex
	var g errgroup.Group
	for k, kind := range kinds {
		part := &kindPart{plan: &Plan{}}
		parts[k] = part
		ds, s := kindToPlan(part.plan, reg, want, st, kind)
		if s == nil {
			continue
		}
		g.Go(func() error { return part.build(ctx, kind, s, ds, st, opts, &mu) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var diffed []int
	for _, part := range parts {
		for _, i := range part.diffed {
			diffed = append(diffed, len(p.Changes)+i)
		}
		p.Changes = append(p.Changes, part.plan.Changes...)
		p.Errors = append(p.Errors, part.plan.Errors...)
		p.Unmanaged = append(p.Unmanaged, part.plan.Unmanaged...)
	}
	own(p, reg, st, diffed)
	return p, nil
}

// kindPart is what BuildFast made of one kind: its changes, errors and unmanaged resources,
// and which of its changes were diffed (indexes into plan.Changes).
type kindPart struct {
	plan   *Plan
	diffed []int
}

// build reads and diffs one kind's resources ds into part; mu guards opts.Lite and Resolve.
func (part *kindPart) build(ctx context.Context, kind string, s sink.Sink, ds []sink.Desired, st *state.Resources, opts FastOptions, mu *sync.Mutex) error {
	p := part.plan
	// Which resources are read: the changed ones, and the unchanged ones a cheap read
	// cannot vouch for.
	var listed map[string]bool
	var names []string
	var listErr error
	l, isLister := s.(sink.Lister)
	isLister = isLister && opts.Target != nil
	if isLister {
		names, listErr = l.ListManaged(ctx, opts.Target)
		if listErr == nil {
			listed = make(map[string]bool, len(names))
			for _, n := range names {
				listed[n] = true
			}
		}
	}
	var read []int
	for i := range ds {
		d := &ds[i]
		clean := !d.Absent && unchanged(st, d)
		switch {
		case !clean || opts.ObserveAll[kind]:
			read = append(read, i)
		case isLister && !listed[d.Name]:
			read = append(read, i) // gone from the listing, or no listing: read it
		}
	}
	mu.Lock()
	err := resolve(ctx, ds, read, opts)
	mu.Unlock()
	if err != nil {
		return err
	}
	sub := make([]sink.Desired, len(read))
	for j, i := range read {
		sub[j] = ds[i]
	}
	have, err := s.Observe(ctx, sub)
	if err != nil {
		unreadable(p, kind, ds, err)
		return nil
	}
	changes, err := s.Diff(sub, have)
	if err != nil {
		return fmt.Errorf("plan: diff %s: %w", kind, err)
	}
	// A lite resource that turns out changed (the descriptor index differs) is diffed again
	// with its complete spec, so its diff is Build's.
	mu.Lock()
	again := liteChanged(changes, read, opts)
	if len(again) > 0 {
		err = resolve(ctx, ds, again, opts)
	}
	mu.Unlock()
	if err != nil {
		return err
	}
	if len(again) > 0 {
		for j, i := range read {
			sub[j] = ds[i]
		}
		if have, err = s.Observe(ctx, sub); err == nil {
			changes, err = s.Diff(sub, have)
		}
		if err != nil {
			return fmt.Errorf("plan: %s: %w", kind, err)
		}
	}
	all := make([]sink.Change, len(ds))
	for i := range ds {
		// Not read: as applied. Exists, so the ownership rules see a live resource.
		all[i] = sink.Change{Event: ds[i].Event, Kind: kind, Name: ds[i].Name, Action: sink.Noop, Diff: []sink.DiffEntry{},
			Desired: &ds[i], Observed: &sink.Observed{Kind: kind, Name: ds[i].Name, Exists: true, Managed: true}}
	}
	for j, i := range read {
		c := changes[j]
		if c.Diff == nil {
			c.Diff = []sink.DiffEntry{}
		}
		c.Desired = &ds[i]
		if c.Observed != nil && c.Observed.Err != nil {
			p.Errors = append(p.Errors, fmt.Sprintf("%s %s: %v", kind, c.Name, c.Observed.Err))
		}
		all[i] = c
	}
	for i := range all {
		part.diffed = append(part.diffed, len(p.Changes)+i)
	}
	p.Changes = append(p.Changes, all...)
	if isLister {
		if listErr != nil {
			p.Errors = append(p.Errors, fmt.Sprintf("%s: list: %v", kind, listErr))
		}
		p.Unmanaged = append(p.Unmanaged, unmanagedOf(kind, names, ds, st)...)
	}
	return nil
}

// unchanged reports whether d is what the last apply made live: recorded ok with d's hash.
func unchanged(st *state.Resources, d *sink.Desired) bool {
	rec, ok := st.Resources[state.ResourceKey(d.Kind, d.Name)]
	return ok && rec.Status == state.StatusOK && rec.Hash == d.Hash
}

// resolve replaces the lite resources among ds[idx] with complete ones.
func resolve(ctx context.Context, ds []sink.Desired, idx []int, opts FastOptions) error {
	var events []string
	seen := map[string]bool{}
	for _, i := range idx {
		d := ds[i]
		if opts.Lite[sink.Ref(d.Kind, d.Name)] && !seen[d.Event] {
			seen[d.Event] = true
			events = append(events, d.Event)
		}
	}
	if len(events) == 0 {
		return nil
	}
	if opts.Resolve == nil {
		return fmt.Errorf("plan: %d resources lack their spec and nothing resolves them", len(events))
	}
	full, err := opts.Resolve(ctx, events)
	if err != nil {
		return err
	}
	for _, i := range idx {
		ref := sink.Ref(ds[i].Kind, ds[i].Name)
		if !opts.Lite[ref] {
			continue
		}
		d, ok := full[ref]
		if !ok {
			return fmt.Errorf("plan: %s: no longer wanted by its event %s; plan again", ref, ds[i].Event)
		}
		ds[i] = d
		delete(opts.Lite, ref)
	}
	return nil
}

// liteChanged returns the indexes (into ds) of lite resources whose change is not a noop.
func liteChanged(changes []sink.Change, read []int, opts FastOptions) []int {
	var out []int
	for j, c := range changes {
		if c.Action != sink.Noop && opts.Lite[sink.Ref(c.Kind, c.Name)] {
			out = append(out, read[j])
		}
	}
	return out
}

// unmanagedOf is unmanaged over a listing already made.
func unmanagedOf(kind string, names []string, ds []sink.Desired, st *state.Resources) []Unmanaged {
	wanted := map[string]bool{}
	for _, d := range ds {
		wanted[d.Name] = true
	}
	var out []Unmanaged
	for _, n := range names {
		if _, owned := st.Resources[state.ResourceKey(kind, n)]; !owned && !wanted[n] {
			out = append(out, Unmanaged{Kind: kind, Name: n})
		}
	}
	return out
}
