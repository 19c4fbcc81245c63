// Package descriptor is the `descriptor` resource kind: each event's compiled FileDescriptorSet in
// the descriptor store (gs:// or file://), content addressed under sets/<sha256>.binpb, and the
// index.json that names, per event, its message, topic, stage and set. A set is immutable; the
// index is replaced (compare-and-swap on its generation) only after every set it names exists.
// The store's format is pkg/storage/descstore's; this package decides what to publish.
package descriptor

import (
	"context"
	"fmt"
	"runtime"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/fielddiff"

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
	// Load, when Set is nil, reads the set from where the planner keeps it (a local,
	// content-addressed cache): a plan of 10,000 events then holds none of their sets, each
	// about 80 KB, and apply reads them a batch at a time. Not part of the JSON form or hash.
	Load func() ([]byte, error) `json:"-"`
}

// Bytes returns the set: Set, or what Load reads.
func (s Spec) Bytes() ([]byte, error) {
	if s.Set != nil || s.Load == nil {
		return s.Set, nil
	}
	return s.Load()
}

// Ref is the descriptor resource of an event, as other kinds name it in Desired.DependsOn: every
// per-event resource depends on its event's published descriptor.
func Ref(event string) string { return sink.Ref(Kind, event) }

// Def is the descriptor kind without a store: it needs nothing first, and wants every hosted
// event's descriptor set published.
type Def struct{}

// Kind implements sink.Def.
func (Def) Kind() string { return Kind }

// DependsOn implements sink.Def: descriptors come first.
func (Def) DependsOn() []string { return nil }

// Desire implements sink.Def: one resource per hosted event, named by its ID.
func (Def) Desire(t *sink.Target) ([]sink.Desired, error) {
	sets, err := eventSets(t.Compiled, t.Events)
	if err != nil {
		return nil, err
	}
	out := make([]sink.Desired, 0, len(t.Events))
	for i, ev := range t.Events {
		id := ev.ID()
		topic := ""
		if ev.Sinks.Kafka != nil {
			topic = t.Project.TopicName(t.Env, ev)
		}
		spec := Spec{Entry: descstore.Entry{
			Message: t.Compiled.Outputs[id].Message, Topic: topic, SHA256: sets[i].sha, Stage: ev.Stage,
		}, Set: sets[i].set}
		out = append(out, sink.NewDesired(id, Kind, id, ev.Stage, spec, nil))
	}
	return out, nil
}

// Own implements sink.Owner: the descriptor store is evctl's alone, so whatever is published
// there is this repository's to change.
func (Def) Own(*sink.Change, sink.Ownership) {}

// eventSet is one event's serialised descriptor set and its sha256.
type eventSet struct {
	set []byte
	sha string
}

// eventSets builds every event's descriptor set on every core, sharing the marshalled bytes of
// the files they import (compile.SetCache): with 1,200 events, rebuilding and marshalling the
// same imports for each was most of a no-change plan's time beyond compiling.
func eventSets(res *compile.Result, events []*contract.Event) ([]eventSet, error) {
	cache := compile.NewSetCache(res)
	out := make([]eventSet, len(events))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, ev := range events {
		g.Go(func() (err error) {
			out[i].set, out[i].sha, err = cache.Marshal([]string{ev.ID()})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// ChangedProd returns the prod events whose published contract the changes would replace: the
// only ones a breaking check has to look at, so a plan with no contract change costs nothing.
func ChangedProd(cs []sink.Change) []string {
	var out []string
	for _, c := range cs {
		if c.Kind == Kind && c.Action == sink.Update && c.Desired != nil && c.Desired.Stage == contract.StageProd {
			out = append(out, c.Event)
		}
	}
	sort.Strings(out)
	return out
}

// Sink publishes descriptors to one store.
type Sink struct {
	Def
	store blob.Store
}

// New returns the descriptor sink over store.
func New(store blob.Store) *Sink { return &Sink{store: store} }

// Observe reads index.json once for every wanted event.
func (s *Sink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	idx, _, err := descstore.ReadIndex(ctx, s.store)
	if err != nil {
		return nil, fmt.Errorf("descriptor: %w", err)
	}
	out := make([]sink.Observed, len(want))
	// The published set of a changed contract is read too, so Diff can show the change field
	// by field; an unreadable one leaves Diff with the hashes alone.
	var g errgroup.Group
	g.SetLimit(8)
	for i, d := range want {
		out[i] = sink.Observed{Kind: Kind, Name: d.Name}
		e, ok := idx.Events[d.Name]
		if !ok {
			continue
		}
		out[i].Exists = true
		out[i].Spec = Spec{Entry: e}
		out[i].Managed = true // the whole store is evctl's
		if w, ok := d.Spec.(Spec); ok && w.SHA256 != e.SHA256 && e.SHA256 != "" {
			g.Go(func() error {
				if set, err := descstore.ReadSet(ctx, s.store, e.SHA256); err == nil {
					out[i].Spec = Spec{Entry: e, Set: set}
				}
				return nil
			})
		}
	}
	_ = g.Wait()
	return out, nil
}

// fieldEntries describes a changed contract field by field ("fields.<path>": "int64 amount = 2"
// → "string amount = 2"), after its sha256 entry; nil when either set is missing or unreadable.
func fieldEntries(have, want Spec) []sink.DiffEntry {
	if len(have.Set) == 0 || have.Message != want.Message {
		return nil
	}
	// A set the planner keeps on disk is read here, for the few changed contracts only.
	ws, err := want.Bytes()
	if err != nil || len(ws) == 0 {
		return nil
	}
	changes, err := fielddiff.Compare(have.Set, ws, want.Message)
	if err != nil {
		return nil
	}
	out := make([]sink.DiffEntry, 0, len(changes))
	for _, c := range changes {
		out = append(out, sink.DiffEntry{Path: FieldPathPrefix + c.Path, From: c.From, To: c.To})
	}
	return out
}

// FieldPathPrefix starts the path of a diff entry that describes one field of a changed
// contract; renderers group those entries apart from the sha256 one.
const FieldPathPrefix = "fields."

// Diff compares wanted and published entries.
func (s *Sink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	return sink.DiffEach(sink.Differ{
		Kind: Kind, What: "descriptor: diff",
		DeleteReason: "event removed from the repository; its index entry goes, its set stays (immutable)",
		Present: func(c *sink.Change) error {
			c.Diff = []sink.DiffEntry{}
			w, ok := c.Desired.Spec.(Spec)
			if !ok {
				return fmt.Errorf("spec is %T, want descriptor.Spec", c.Desired.Spec)
			}
			if !c.Observed.Exists {
				c.Action = sink.Create
				c.Diff = append(c.Diff, sink.DiffEntry{Path: "sha256", From: "", To: w.SHA256})
				return nil
			}
			h := c.Observed.Spec.(Spec)
			for _, f := range []struct{ path, from, to string }{
				{"sha256", h.SHA256, w.SHA256}, {"message", h.Message, w.Message},
				{"topic", h.Topic, w.Topic}, {"stage", h.Stage, w.Stage},
			} {
				if f.from != f.to {
					c.Diff = append(c.Diff, sink.DiffEntry{Path: f.path, From: f.from, To: f.to})
				}
			}
			if h.SHA256 != w.SHA256 {
				c.Diff = append(c.Diff, fieldEntries(h, w)...)
			}
			if len(c.Diff) > 0 {
				c.Action = sink.Update
			}
			return nil
		},
	}, want, have)
}

// Apply publishes one change.
func (s *Sink) Apply(ctx context.Context, c sink.Change) error {
	return s.ApplyBatch(ctx, []sink.Change{c})[0]
}

// ApplyBatch writes every needed set (create-only: an existing set has the same bytes, since it
// is content addressed), setBatch sets at a time so that memory holds one batch of them, then
// replaces the index once, with compare-and-swap, for the changes whose set exists. A concurrent
// index writer makes it re-read and retry, never overwrite.
func (s *Sink) ApplyBatch(ctx context.Context, cs []sink.Change) []error {
	errs := make([]error, len(cs))
	var todo []int
	for i, c := range cs {
		if c.Action != sink.Delete && c.Desired != nil {
			todo = append(todo, i)
		}
	}
	for start := 0; start < len(todo); start += setBatch {
		part := todo[start:min(start+setBatch, len(todo))]
		sets := map[string][]byte{}
		for _, i := range part {
			w := cs[i].Desired.Spec.(Spec)
			if _, ok := sets[w.SHA256]; ok {
				continue
			}
			b, err := w.Bytes()
			if err != nil {
				errs[i] = fmt.Errorf("descriptor: set for %s: %w", cs[i].Event, err)
				continue
			}
			sets[w.SHA256] = b
		}
		written := descstore.WriteSets(ctx, s.store, sets)
		for _, i := range part {
			w := cs[i].Desired.Spec.(Spec)
			if err := written[w.SHA256]; err != nil && errs[i] == nil {
				errs[i] = fmt.Errorf("descriptor: set for %s: %w", cs[i].Event, err)
			}
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

// setBatch is how many sets ApplyBatch reads and writes at a time.
const setBatch = 256

// Names implements sink.Namer: an event's descriptor is named by its ID.
func (Def) Names(_ *config.Project, _ string, ev *contract.Event) []string { return []string{ev.ID()} }
