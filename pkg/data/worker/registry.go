package worker

// Every read of the descriptor store by data-plane workers is in this file, so that moving to a
// dedicated store package changes one file.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Record header names (SPEC section 6) the worker reads; descstore owns them.
const (
	HeaderEvent  = descstore.HeaderEvent
	HeaderSchema = descstore.HeaderSchema
)

// errNoSchema: the set a record names is not in the store (or is not a valid set), so the record
// can never be decoded. Store outages are other errors, retried.
var errNoSchema = errors.New("schema not in the descriptor store")

// Registry resolves events to topics through index.json and records to message descriptors
// through the set their evctl-schema header names (fetched once per sha256, then cached).
type Registry struct {
	store blob.Store

	mu       sync.Mutex
	byTopic  map[string]descstore.Entry // topic → entry, from the last index read
	events   map[string]string          // topic → event ID
	schemas  map[string]*Schema         // sha256 + "\x00" + message → schema
	aliases  map[string]string          // internal topic → the topic whose records it carries (alias.go)
	indexGen blob.Gen                   // index.json's generation at the last refresh
	// sets fetches a set the first time a record names it (records of many partitions naming
	// the same new set share one fetch) and builds it sharing the imports sets have in common
	// (well-known types, protovalidate's rules, evctl's options): one copy for every event
	// rather than one each.
	sets *descstore.Loader
	// building dedupes building a Schema, so concurrent first records of a set build one.
	building singleflight.Group
}

// NewRegistry reads from the descriptor store at store.
func NewRegistry(store blob.Store) *Registry {
	return &Registry{store: store, byTopic: map[string]descstore.Entry{}, events: map[string]string{}, schemas: map[string]*Schema{}, sets: descstore.NewLoader(store)}
}

// Refresh re-reads index.json. An index whose generation did not change since the last
// refresh is not decoded again: callers refresh once per event they set up (2 MB of JSON each
// time at 10,000 events).
func (r *Registry) Refresh(ctx context.Context) error {
	r.mu.Lock()
	since := r.indexGen
	r.mu.Unlock()
	idx, gen, changed, err := descstore.ReadIndexSince(ctx, r.store, since)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if !changed {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.indexGen = gen
	for id, e := range idx.Events {
		r.byTopic[e.Topic] = e
		r.events[e.Topic] = id
	}
	return nil
}

// Topics returns the topic of each event (all published events when ids is empty), sorted, and
// the events of ids that are not published.
func (r *Registry) Topics(ctx context.Context, ids []string) (topics map[string]string, missing []string, err error) {
	if err := r.Refresh(ctx); err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	byID := map[string]string{}
	for topic, id := range r.events {
		byID[id] = topic
	}
	topics = map[string]string{}
	if len(ids) == 0 {
		for id, t := range byID {
			topics[t] = id
		}
		return topics, nil, nil
	}
	for _, id := range ids {
		t, ok := byID[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		topics[t] = id
	}
	sort.Strings(missing)
	return topics, missing, nil
}

// Current returns the message descriptor of the set index.json names for the topic's event now
// (what a table was created from), refreshing the index first.
func (r *Registry) Current(ctx context.Context, topic string) (*Schema, error) {
	topic = r.resolve(topic)
	if err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	r.mu.Lock()
	e, ok := r.byTopic[topic]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("worker: topic %s: %w (no event in index.json)", topic, errNoSchema)
	}
	return r.Schema(ctx, topic, e.SHA256)
}

// Schema returns the descriptor of the topic's event message in the set with the given sha256.
// A set or message that does not exist wraps errNoSchema (the record goes to the DLQ); a store
// that cannot be read is another error (retried).
func (r *Registry) Schema(ctx context.Context, topic, sha string) (*Schema, error) {
	topic = r.resolve(topic)
	r.mu.Lock()
	e, ok := r.byTopic[topic]
	r.mu.Unlock()
	if !ok {
		if err := r.Refresh(ctx); err != nil {
			return nil, err
		}
		r.mu.Lock()
		e, ok = r.byTopic[topic]
		r.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("worker: topic %s: %w (no event in index.json)", topic, errNoSchema)
		}
	}
	key := sha + "\x00" + e.Message
	r.mu.Lock()
	s, ok := r.schemas[key]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	if !validSHA(sha) {
		return nil, fmt.Errorf("worker: schema %q: %w (not a sha256)", sha, errNoSchema)
	}
	v, err, _ := r.building.Do(key, func() (any, error) {
		r.mu.Lock()
		s, ok := r.schemas[key]
		r.mu.Unlock()
		if ok { // built by a call that finished between the check above and this one
			return s, nil
		}
		md, err := r.sets.Message(ctx, sha, e.Message)
		switch {
		case errors.Is(err, blob.ErrNotExist):
			return nil, fmt.Errorf("worker: schema %s: %w", sha, errNoSchema)
		case errors.Is(err, descstore.ErrBadSet):
			return nil, fmt.Errorf("worker: schema %s: %w: %v", sha, errNoSchema, err)
		case err != nil:
			return nil, fmt.Errorf("worker: %w", err)
		}
		s = &Schema{SHA256: sha, Event: r.eventOf(topic), Message: md}
		r.mu.Lock()
		r.schemas[key] = s
		r.mu.Unlock()
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Schema), nil
}

func (r *Registry) eventOf(topic string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events[topic]
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
