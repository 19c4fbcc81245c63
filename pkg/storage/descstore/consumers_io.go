package descstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// ReadConsumerIndex reads consumers/index.json and its generation (for a later
// compare-and-swap). A store without one has an empty index, no generation and an empty
// Version. This is the poll of a route worker: one small object; it loads a definition only
// when that consumer's SHA256 changed.
func ReadConsumerIndex(ctx context.Context, store blob.Store) (*ConsumerIndex, blob.Gen, error) {
	b, gen, err := store.Get(ctx, ConsumersIndexKey)
	if errors.Is(err, blob.ErrNotExist) {
		return NewConsumerIndex(), "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("descstore: read %s/%s: %w", store.URL(), ConsumersIndexKey, err)
	}
	idx, err := DecodeConsumerIndex(b)
	if err != nil {
		return nil, "", fmt.Errorf("descstore: %s/%s is corrupt (%v); restore it from the bucket's object versions, or delete it and run `evctl apply` to republish every consumer", store.URL(), ConsumersIndexKey, errors.Unwrap(err))
	}
	return idx, gen, nil
}

// ReadConsumerDef reads the definition with the given sha256, checks that its content hashes
// to it and decodes it. A missing one wraps blob.ErrNotExist; a mismatch wraps
// ErrCorruptConsumer.
func ReadConsumerDef(ctx context.Context, store blob.Store, sha string) (*ConsumerDef, error) {
	b, _, err := store.Get(ctx, ConsumerDefKey(sha))
	if err != nil {
		return nil, fmt.Errorf("descstore: read consumer definition %s: %w", sha, err)
	}
	if got := SHA256(b); got != sha {
		return nil, fmt.Errorf("descstore: consumer definition %s: %w (it hashes to %s)", sha, ErrCorruptConsumer, got)
	}
	d, err := DecodeConsumerDef(b)
	if err != nil {
		return nil, fmt.Errorf("descstore: consumer definition %s: %w", sha, err)
	}
	return d, nil
}

// Consumers is every published consumer of a store, as read at one index version.
type Consumers struct {
	Index *ConsumerIndex
	// Defs holds each consumer's definition by name.
	Defs map[string]*ConsumerDef
}

// ReadConsumers reads the index and every definition it names. A definition that cannot be
// read is an error naming the consumer: the caller keeps what it runs (a poller keeps its last
// good definitions) rather than run a partial set.
func ReadConsumers(ctx context.Context, store blob.Store) (*Consumers, error) {
	idx, _, err := ReadConsumerIndex(ctx, store)
	if err != nil {
		return nil, err
	}
	out := &Consumers{Index: idx, Defs: make(map[string]*ConsumerDef, len(idx.Consumers))}
	for _, name := range idx.Names() {
		d, err := ReadConsumerDef(ctx, store, idx.Consumers[name].SHA256)
		if err != nil {
			return nil, fmt.Errorf("descstore: consumer %s: %w", name, err)
		}
		if d.Name != name {
			return nil, fmt.Errorf("descstore: consumer %s: its definition is named %q", name, d.Name)
		}
		out.Defs[name] = d
	}
	return out, nil
}

// WriteConsumerDef writes the definition's blob (create-only; an existing one has the same
// bytes) and returns the index entry that points at it.
func WriteConsumerDef(ctx context.Context, store blob.Store, d *ConsumerDef) (ConsumerEntry, error) {
	b, sha, err := EncodeConsumerDef(d)
	if err != nil {
		return ConsumerEntry{}, err
	}
	_, err = store.Put(ctx, ConsumerDefKey(sha), b, blob.PutOpts{IfNotExist: true})
	if err != nil && !errors.Is(err, blob.ErrPrecondition) {
		return ConsumerEntry{}, fmt.Errorf("descstore: write consumer %s: %w", d.Name, err)
	}
	return ConsumerEntry{SHA256: sha, Team: d.Team, Events: append([]string(nil), d.Events...)}, nil
}

// UpdateConsumerIndex replaces consumers/index.json with edit applied to its current content,
// with compare-and-swap on its generation, as UpdateIndex does for index.json (edit must be
// repeatable). The caller must have written every definition the edited index names.
func UpdateConsumerIndex(ctx context.Context, store blob.Store, edit func(*ConsumerIndex)) error {
	var lastErr error
	for attempt := range indexAttempts {
		if attempt > 0 {
			if err := blob.Backoff(ctx, attempt); err != nil {
				return fmt.Errorf("descstore: write %s: %w (after %v)", ConsumersIndexKey, err, lastErr)
			}
		}
		idx, gen, err := ReadConsumerIndex(ctx, store)
		if err != nil {
			return err
		}
		edit(idx)
		b, err := EncodeConsumerIndex(idx)
		if err != nil {
			return err
		}
		opts := blob.PutOpts{IfGen: gen}
		if gen == "" {
			opts = blob.PutOpts{IfNotExist: true}
		}
		_, err = store.Put(ctx, ConsumersIndexKey, b, opts)
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("descstore: write %s: %w", ConsumersIndexKey, err)
		if !errors.Is(err, blob.ErrPrecondition) {
			return lastErr
		}
	}
	return lastErr
}

// PublishConsumers writes each definition, then points the index at them and drops the
// consumers named in remove, in one compare-and-swap. Nothing is added to the index unless
// every definition was written, so the index never names a missing definition. Definitions
// stay after their consumer is removed (they are immutable and may be shared).
func PublishConsumers(ctx context.Context, store blob.Store, defs []*ConsumerDef, remove []string) error {
	entries := make(map[string]ConsumerEntry, len(defs))
	for _, d := range defs {
		e, err := WriteConsumerDef(ctx, store, d)
		if err != nil {
			return err
		}
		entries[d.Name] = e
	}
	return UpdateConsumerIndex(ctx, store, func(idx *ConsumerIndex) {
		for _, n := range remove {
			delete(idx.Consumers, n)
		}
		for n, e := range entries {
			idx.Consumers[n] = e
		}
	})
}
