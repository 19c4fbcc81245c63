// Package descriptor is the `descriptor` resource kind: each event's compiled FileDescriptorSet in
// the descriptor store (gs:// or file://), content addressed under sets/<sha256>.binpb, and the
// index.json that names, per event, its message, topic, stage and set. A set is immutable; the
// index is replaced (compare-and-swap on its generation) only after every set it names exists.
// The gateway and `evctl breaking --against env:NAME` read what this package writes.
package descriptor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Kind is the resource kind name.
const Kind = "descriptor"

// IndexKey is the index object's key in the store.
const IndexKey = "index.json"

// SetKey is the key of a set by its sha256.
func SetKey(sha string) string { return setsPrefix + sha + setSuffix }

const (
	setsPrefix = "sets/"
	setSuffix  = ".binpb"
)

// Entry is one event in index.json.
type Entry struct {
	Message string `json:"message"`
	Topic   string `json:"topic"`
	SHA256  string `json:"sha256"`
	Stage   string `json:"stage"`
}

// Index is index.json.
type Index struct {
	Events map[string]Entry `json:"events"`
}

// Spec is the wanted descriptor of one event. Set is the serialised FileDescriptorSet (not part
// of the JSON form: plans show its hash).
type Spec struct {
	Entry
	Set []byte `json:"-"`
}

// ReadIndex reads index.json; a store without one has an empty index. A corrupt index is an
// error naming the object and the way out, never a silent reset.
func ReadIndex(ctx context.Context, store blob.Store) (*Index, blob.Gen, error) {
	b, gen, err := store.Get(ctx, IndexKey)
	if errors.Is(err, blob.ErrNotExist) {
		return &Index{Events: map[string]Entry{}}, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("descriptor: read %s/%s: %w", store.URL(), IndexKey, err)
	}
	idx := &Index{}
	if err := json.Unmarshal(b, idx); err != nil {
		return nil, "", fmt.Errorf("descriptor: %s/%s is corrupt (%v); restore it from the bucket's object versions, or delete it and run `evctl apply` to republish every event", store.URL(), IndexKey, err)
	}
	if idx.Events == nil {
		idx.Events = map[string]Entry{}
	}
	return idx, gen, nil
}

// ReadSet reads one set by sha256.
func ReadSet(ctx context.Context, store blob.Store, sha string) ([]byte, error) {
	b, _, err := store.Get(ctx, SetKey(sha))
	if err != nil {
		return nil, fmt.Errorf("descriptor: read set %s: %w", sha, err)
	}
	return b, nil
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
	idx, _, err := ReadIndex(ctx, s.store)
	if err != nil {
		return nil, err
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
	written := s.writeSets(ctx, cs)
	for i, c := range cs {
		if c.Action == sink.Delete || c.Desired == nil {
			continue
		}
		w := c.Desired.Spec.(Spec)
		if err := written[w.SHA256]; err != nil {
			errs[i] = fmt.Errorf("descriptor: write set %s for %s: %w", w.SHA256, c.Event, err)
		}
	}
	var lastErr error
	for attempt := range indexAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				lastErr = fmt.Errorf("descriptor: write %s: %w (after %v)", IndexKey, err, lastErr)
				break
			}
		}
		idx, gen, err := ReadIndex(ctx, s.store)
		if err != nil {
			lastErr = err
			break
		}
		for i, c := range cs {
			if errs[i] != nil {
				continue
			}
			if c.Action == sink.Delete {
				delete(idx.Events, c.Name)
				continue
			}
			idx.Events[c.Name] = c.Desired.Spec.(Spec).Entry
		}
		b, err := marshalIndex(idx)
		if err != nil {
			lastErr = err
			break
		}
		opts := blob.PutOpts{IfGen: gen}
		if gen == "" {
			opts = blob.PutOpts{IfNotExist: true}
		}
		_, err = s.store.Put(ctx, IndexKey, b, opts)
		if err == nil {
			return errs
		}
		lastErr = fmt.Errorf("descriptor: write %s: %w", IndexKey, err)
		if !errors.Is(err, blob.ErrPrecondition) {
			break
		}
	}
	for i := range errs {
		if errs[i] == nil {
			errs[i] = lastErr
		}
	}
	return errs
}

// setWriters bounds the set writes in flight. Each is a create-only object write (on file://
// an fsync'd file); one at a time they dominated an apply from empty.
const setWriters = 16

// writeSets writes each distinct set the changes need that the store does not hold yet,
// create-only and concurrently, and returns the error of each by sha256 (nil: the set exists
// now, written or already there, since sets are content addressed).
func (s *Sink) writeSets(ctx context.Context, cs []sink.Change) map[string]error {
	sets := map[string][]byte{}
	for _, c := range cs {
		if c.Action == sink.Delete || c.Desired == nil {
			continue
		}
		w := c.Desired.Spec.(Spec)
		sets[w.SHA256] = w.Set
	}
	out := make(map[string]error, len(sets))
	if len(sets) > 1 {
		// One listing instead of a create-only write per set that is already there (a re-run
		// after a crash, events whose contract did not change, environments sharing a store):
		// on gs:// a refused create still uploads the whole set first. A failed listing only
		// costs those writes.
		if keys, err := s.store.List(ctx, setsPrefix); err == nil {
			for _, k := range keys {
				sha := strings.TrimSuffix(strings.TrimPrefix(k, setsPrefix), setSuffix)
				if _, ok := sets[sha]; ok {
					out[sha] = nil
					delete(sets, sha)
				}
			}
		}
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, setWriters)
	)
	for sha, set := range sets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := s.store.Put(ctx, SetKey(sha), set, blob.PutOpts{IfNotExist: true})
			if errors.Is(err, blob.ErrPrecondition) {
				err = nil
			}
			mu.Lock()
			out[sha] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// indexAttempts bounds ApplyBatch's read-modify-write loop on index.json. Every publisher
// (each environment's apply, retried ones) races on this one object; with jittered waits a
// dozen concurrent writers settle well within it, where five attempts back to back did not.
const indexAttempts = 20

// backoff waits a random time that grows with attempt (capped), or until ctx ends.
func backoff(ctx context.Context, attempt int) error {
	ceiling := time.Duration(min(1<<attempt, 64)) * 5 * time.Millisecond
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// marshalIndex writes the index with sorted keys (encoding/json sorts map keys) and indentation,
// so diffs of the object are readable.
func marshalIndex(idx *Index) ([]byte, error) {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("descriptor: encode index: %w", err)
	}
	return append(b, '\n'), nil
}

// EventIDs lists the index's event IDs, sorted.
func (idx *Index) EventIDs() []string {
	out := make([]string, 0, len(idx.Events))
	for id := range idx.Events {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
