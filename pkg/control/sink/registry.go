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
// kinds it depends on, otherwise in the order given. A dependency on a kind not registered is
// ignored; kinds in a dependency cycle (a wiring bug) go last, in the order given.
func NewRegistry(sinks ...Sink) *Registry {
	r := &Registry{byKind: map[string]Sink{}, level: map[string]int{}}
	var given []string
	for _, s := range sinks {
		if _, dup := r.byKind[s.Kind()]; !dup {
			given = append(given, s.Kind())
		}
		r.byKind[s.Kind()] = s
	}
	placed := map[string]bool{}
	for len(r.order) < len(given) {
		progress := false
		for _, k := range given {
			if placed[k] {
				continue
			}
			lv, ready := 0, true
			for _, d := range r.byKind[k].DependsOn() {
				if _, ok := r.byKind[d]; !ok || d == k {
					continue
				}
				if !placed[d] {
					ready = false
					break
				}
				lv = max(lv, r.level[d]+1)
			}
			if ready {
				placed[k], r.level[k] = true, lv
				r.order = append(r.order, k)
				progress = true
				break // restart from the first given kind, so the order given wins ties
			}
		}
		if !progress {
			last := 0
			for _, k := range r.order {
				last = max(last, r.level[k]+1)
			}
			for _, k := range given {
				if !placed[k] {
					placed[k], r.level[k] = true, last
					r.order = append(r.order, k)
				}
			}
		}
	}
	return r
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
