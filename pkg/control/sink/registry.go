package sink

import (
	"context"
	"errors"
	"slices"
)

// Registry holds the sinks a run uses, wired explicitly by the caller, in dependency order.
type Registry struct {
	byKind map[string]Sink
	order  []string
	level  map[string]int
}

// NewRegistry returns a registry of the given sinks. Kinds are ordered so each comes after the
// kinds it depends on, otherwise in the order given (see SortDefs).
func NewRegistry(sinks ...Sink) *Registry {
	r := &Registry{byKind: map[string]Sink{}}
	defs := make([]Def, 0, len(sinks))
	for _, s := range sinks {
		if _, dup := r.byKind[s.Kind()]; !dup {
			defs = append(defs, s)
		}
		r.byKind[s.Kind()] = s
	}
	var sorted []Def
	sorted, r.level = order(defs)
	for _, d := range sorted {
		r.order = append(r.order, d.Kind())
	}
	return r
}

// SortDefs orders kinds so each comes after the kinds it depends on, otherwise in the order
// given. A dependency on a kind not given is ignored; kinds in a dependency cycle (a wiring
// bug) go last, in the order given.
func SortDefs(defs []Def) []Def {
	sorted, _ := order(defs)
	return sorted
}

// order sorts defs (see SortDefs) and gives each kind its wave: one after the latest wave of a
// kind it depends on.
func order(defs []Def) ([]Def, map[string]int) {
	byKind := make(map[string]Def, len(defs))
	for _, d := range defs {
		byKind[d.Kind()] = d
	}
	level := map[string]int{}
	placed := map[string]bool{}
	var out []Def
	for len(out) < len(defs) {
		progress := false
		for _, d := range defs {
			k := d.Kind()
			if placed[k] {
				continue
			}
			lv, ready := 0, true
			for _, dep := range d.DependsOn() {
				if _, ok := byKind[dep]; !ok || dep == k {
					continue
				}
				if !placed[dep] {
					ready = false
					break
				}
				lv = max(lv, level[dep]+1)
			}
			if ready {
				placed[k], level[k] = true, lv
				out = append(out, d)
				progress = true
				break // restart from the first kind given, so the order given wins ties
			}
		}
		if !progress {
			last := 0
			for _, d := range out {
				last = max(last, level[d.Kind()]+1)
			}
			for _, d := range defs {
				if !placed[d.Kind()] {
					placed[d.Kind()], level[d.Kind()] = true, last
					out = append(out, d)
				}
			}
		}
	}
	return out, level
}

// Get returns the sink for kind, or nil.
func (r *Registry) Get(kind string) Sink { return r.byKind[kind] }

// Kinds returns the registered kinds, each after the kinds it depends on.
func (r *Registry) Kinds() []string { return slices.Clone(r.order) }

// Waves groups the kinds into waves: each kind's wave is one after the latest wave of a kind it
// depends on, so the kinds of one wave can be applied at the same time. Within a wave, kinds are
// in Kinds order.
func (r *Registry) Waves() [][]string {
	var out [][]string
	for _, k := range r.order {
		lv := r.level[k]
		for len(out) <= lv {
			out = append(out, nil)
		}
		out[lv] = append(out[lv], k)
	}
	return out
}

// Unavailable is a sink whose system could not be reached at all: every Observe and Apply returns
// err, so the plan shows its resources as not readable and an apply records them failed, while
// every other sink goes on. Its resources are still wanted: def builds them.
func Unavailable(def Def, err error) Sink { return unavailable{def, err} }

type unavailable struct {
	Def
	err error
}

func (u unavailable) Observe(context.Context, []Desired) ([]Observed, error) {
	return nil, u.err
}
func (u unavailable) Diff([]Desired, []Observed) ([]Change, error) { return nil, u.err }
func (u unavailable) Apply(context.Context, Change) error          { return u.err }

// Disabled is a sink that this environment deliberately does not provision right now (for
// example BigQuery on a laptop without the emulator, or an environment with no bigquery
// section): its resources plan as skipped with the reason, which is not an error, and an apply
// records them skipped.
func Disabled(def Def, reason string) Sink { return disabled{Def: def, reason: reason} }

// DisabledReason reports why s is disabled, or "" when it is not.
func DisabledReason(s Sink) string {
	if d, ok := s.(disabled); ok {
		return d.reason
	}
	return ""
}

type disabled struct {
	Def
	reason string
}

func (d disabled) Observe(context.Context, []Desired) ([]Observed, error) {
	return nil, errors.New(d.reason)
}
func (d disabled) Diff([]Desired, []Observed) ([]Change, error) { return nil, errors.New(d.reason) }
func (d disabled) Apply(context.Context, Change) error          { return errors.New(d.reason) }
