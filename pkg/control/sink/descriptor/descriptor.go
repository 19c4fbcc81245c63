// Package descriptor is the `descriptor` resource kind: each event's compiled FileDescriptorSet in
// the descriptor store (gs:// or file://), content addressed under sets/<sha256>.binpb, and the
// index.json that names, per event, its message, topic, stage and set. A set is immutable; the
// index is replaced (compare-and-swap on its generation) only after every set it names exists.
// The store's format is pkg/storage/descstore's; this package decides what to publish.
package descriptor

import (
	"context"
	"fmt"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Kind is the resource kind name.
const Kind = "descriptor"

// Spec is the wanted descriptor of one event: its index entry and the serialised
// FileDescriptorSet the entry names (not part of the JSON form: plans show its hash).
type Spec struct {
	descstore.Entry
	Set []byte `json:"-"`
}

// Sink publishes descriptors to one store.
type Sink struct {
	store blob.Store
}

// New returns the descriptor sink over store.
func New(store blob.Store) *Sink { return &Sink{store: store} }

// Kind implements sink.Sink.
func (*Sink) Kind() string { return Kind }

// Observe reads index.json once for every wanted event.
func (s *Sink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	idx, _, err := descstore.ReadIndex(ctx, s.store)
	if err != nil {
		return nil, fmt.Errorf("descriptor: %w", err)
	}
	out := make([]sink.Observed, len(want))
	for i, d := range want {
		out[i] = sink.Observed{Kind: Kind, Name: d.Name}
		if e, ok := idx.Events[d.Name]; ok {
			out[i].Exists = true
			out[i].Spec = Spec{Entry: e}
			out[i].Managed = true // the whole store is evctl's
		}
	}
	return out, nil
}

// Diff compares wanted and published entries.
func (s *Sink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	out := make([]sink.Change, 0, len(want))
	for i := range want {
		d, o := &want[i], &have[i]
		c := sink.Change{Event: d.Event, Kind: Kind, Name: d.Name, Desired: d, Observed: o, Diff: []sink.DiffEntry{}}
		switch {
		case d.Absent && o.Exists:
			c.Action = sink.Delete
			c.Reason = "event removed from the repository; its index entry goes, its set stays (immutable)"
		case d.Absent:
			c.Action = sink.Noop
		case !o.Exists:
			c.Action = sink.Create
			w := d.Spec.(Spec)
			c.Diff = append(c.Diff, sink.DiffEntry{Path: "sha256", From: "", To: w.SHA256})
		default:
			w, h := d.Spec.(Spec), o.Spec.(Spec)
			for _, f := range []struct{ path, from, to string }{
				{"sha256", h.SHA256, w.SHA256}, {"message", h.Message, w.Message},
				{"topic", h.Topic, w.Topic}, {"stage", h.Stage, w.Stage},
			} {
				if f.from != f.to {
					c.Diff = append(c.Diff, sink.DiffEntry{Path: f.path, From: f.from, To: f.to})
				}
			}
			c.Action = sink.Noop
			if len(c.Diff) > 0 {
				c.Action = sink.Update
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Apply publishes one change.
func (s *Sink) Apply(ctx context.Context, c sink.Change) error {
	return s.ApplyBatch(ctx, []sink.Change{c})[0]
}

// ApplyBatch writes every needed set (create-only: an existing set has the same bytes, since it
// is content addressed), then replaces the index once, with compare-and-swap, for the changes
// whose set exists. A concurrent index writer makes it re-read and retry, never overwrite.
func (s *Sink) ApplyBatch(ctx context.Context, cs []sink.Change) []error {
	errs := make([]error, len(cs))
	sets := map[string][]byte{}
	for _, c := range cs {
		if c.Action != sink.Delete && c.Desired != nil {
			w := c.Desired.Spec.(Spec)
			sets[w.SHA256] = w.Set
		}
	}
	written := descstore.WriteSets(ctx, s.store, sets)
	for i, c := range cs {
		if c.Action == sink.Delete || c.Desired == nil {
			continue
		}
		w := c.Desired.Spec.(Spec)
		if err := written[w.SHA256]; err != nil {
			errs[i] = fmt.Errorf("descriptor: set for %s: %w", c.Event, err)
		}
	}
	err := descstore.UpdateIndex(ctx, s.store, func(idx *descstore.Index) {
		for i, c := range cs {
			switch {
			case errs[i] != nil:
			case c.Action == sink.Delete:
				delete(idx.Events, c.Name)
			default:
				idx.Events[c.Name] = c.Desired.Spec.(Spec).Entry
			}
		}
	})
	if err != nil {
		err = fmt.Errorf("descriptor: %w", err)
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}
