package descstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// ReadIndex reads index.json and its generation (for a later compare-and-swap). A store without
// one has an empty index and no generation. A corrupt index is an error naming the object and
// the way out, never a silent reset.
func ReadIndex(ctx context.Context, store blob.Store) (*Index, blob.Gen, error) {
	b, gen, err := store.Get(ctx, IndexKey)
	if errors.Is(err, blob.ErrNotExist) {
		return NewIndex(), "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("descstore: read %s/%s: %w", store.URL(), IndexKey, err)
	}
	idx, err := DecodeIndex(b)
	if err != nil {
		return nil, "", fmt.Errorf("descstore: %s/%s is corrupt (%v); restore it from the bucket's object versions, or delete it and run `evctl apply` to republish every event", store.URL(), IndexKey, errors.Unwrap(err))
	}
	return idx, gen, nil
}

// ReadIndexSince is ReadIndex for a poller: when index.json's generation is still since (non
// empty), it returns a nil index and changed false without decoding the object (a 10,000-event
// index is about 2 MB of JSON, read every poll).
func ReadIndexSince(ctx context.Context, store blob.Store, since blob.Gen) (idx *Index, gen blob.Gen, changed bool, err error) {
	b, gen, err := store.Get(ctx, IndexKey)
	if errors.Is(err, blob.ErrNotExist) {
		return NewIndex(), "", true, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("descstore: read %s/%s: %w", store.URL(), IndexKey, err)
	}
	if since != "" && gen == since {
		return nil, gen, false, nil
	}
	if idx, err = DecodeIndex(b); err != nil {
		return nil, "", false, fmt.Errorf("descstore: %s/%s is corrupt (%v); restore it from the bucket's object versions, or delete it and run `evctl apply` to republish every event", store.URL(), IndexKey, errors.Unwrap(err))
	}
	return idx, gen, true, nil
}

// ErrCorruptSet reports a set whose bytes do not hash to the sha256 that names it. Test for it
// with errors.Is.
var ErrCorruptSet = errors.New("set content does not match its sha256")

// ReadSet reads the serialised FileDescriptorSet with the given sha256 and checks that its
// content hashes to it. A missing set wraps blob.ErrNotExist; a mismatch wraps ErrCorruptSet.
func ReadSet(ctx context.Context, store blob.Store, sha string) ([]byte, error) {
	b, _, err := store.Get(ctx, SetKey(sha))
	if err != nil {
		return nil, fmt.Errorf("descstore: read set %s: %w", sha, err)
	}
	if got := SHA256(b); got != sha {
		return nil, fmt.Errorf("descstore: set %s: %w (it hashes to %s)", sha, ErrCorruptSet, got)
	}
	return b, nil
}

// Baseline is what an environment has published: its index and the sets of the events read.
type Baseline struct {
	Index *Index
	// Sets holds each read event's set by sha256.
	Sets map[string][]byte
}

// ReadBaseline reads the index and the sets of the given events (all events when ids is nil),
// each distinct set once. Events not in the index are left out (they were never published). A
// store with no index.json yet is an empty baseline. This is the read `evctl breaking --against
// env:NAME` and the plan's breaking check compare against.
func ReadBaseline(ctx context.Context, store blob.Store, ids []string) (*Baseline, error) {
	idx, _, err := ReadIndex(ctx, store)
	if err != nil {
		return nil, err
	}
	if ids == nil {
		ids = idx.EventIDs()
	}
	b := &Baseline{Index: idx, Sets: map[string][]byte{}}
	for _, id := range ids {
		e, ok := idx.Events[id]
		if !ok {
			continue
		}
		if _, done := b.Sets[e.SHA256]; done {
			continue
		}
		set, err := ReadSet(ctx, store, e.SHA256)
		if err != nil {
			return nil, fmt.Errorf("descstore: baseline of %s: %w", id, err)
		}
		b.Sets[e.SHA256] = set
	}
	return b, nil
}
