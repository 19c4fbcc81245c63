package sink

import "fmt"

// Differ is what one kind decides in a Diff; DiffEach does the rest.
type Differ struct {
	// Kind is the kind of the changes.
	Kind string
	// What prefixes errors, naming the component and the resource ("kafka: diff topic").
	What string
	// DeleteReason is the reason given for deleting a live resource whose Desired is Absent.
	DeleteReason string
	// Absent, when set, replaces the default for an Absent resource whose observation did not
	// fail (delete when it exists, else noop).
	Absent func(ch *Change) error
	// Present decides the change for a wanted resource (not Absent) whose observation did not
	// fail; ch starts as a noop with Desired and Observed set.
	Present func(ch *Change) error
}

// DiffEach is the skeleton every sink's Diff shares. It pairs each wanted resource with its
// observation by name and returns one change per wanted resource, in order: an observation that
// failed → blocked with its error as reason; Absent → d.Absent (or the default); otherwise
// d.Present. The error is for a wanted resource with no observation, or what Absent or Present
// returned, prefixed with d.What and the resource's name.
func DiffEach(d Differ, want []Desired, have []Observed) ([]Change, error) {
	byName := make(map[string]*Observed, len(have))
	for i := range have {
		byName[have[i].Name] = &have[i]
	}
	out := make([]Change, 0, len(want))
	for i := range want {
		w := &want[i]
		o, ok := byName[w.Name]
		if !ok {
			return nil, fmt.Errorf("%s %q: not observed", d.What, w.Name)
		}
		ch := Change{Event: w.Event, Kind: d.Kind, Name: w.Name, Action: Noop, Desired: w, Observed: o}
		var err error
		switch {
		case o.Err != nil:
			ch.Action, ch.Reason = Blocked, o.Err.Error()
		case w.Absent && d.Absent != nil:
			err = d.Absent(&ch)
		case w.Absent:
			if o.Exists {
				ch.Action, ch.Reason = Delete, d.DeleteReason
			}
		default:
			err = d.Present(&ch)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", d.What, w.Name, err)
		}
		out = append(out, ch)
	}
	return out, nil
}
