package descstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// setWriters bounds the set writes in flight on a store that is not a blob.BatchCreator (gs://).
// Each is a create-only object write; one at a time they dominated an apply from empty.
const setWriters = 16

// WriteSets writes each set (keyed by its sha256) that the store does not hold yet, create-only
// and concurrently, and returns each one's error by sha256: nil means the set exists now,
// written or already there (sets are content addressed, so an existing one has the same bytes).
// A key that is not the sha256 of its bytes is refused with ErrCorruptSet.
func WriteSets(ctx context.Context, store blob.Store, sets map[string][]byte) map[string]error {
	todo := make(map[string][]byte, len(sets))
	out := make(map[string]error, len(sets))
	for sha, set := range sets {
		if got := SHA256(set); got != sha {
			out[sha] = fmt.Errorf("descstore: write set %s: %w (it hashes to %s)", sha, ErrCorruptSet, got)
			continue
		}
		todo[sha] = set
	}
	if len(todo) > 1 {
		// One listing instead of a create-only write per set that is already there (a re-run
		// after a crash, events whose contract did not change, environments sharing a store):
		// on gs:// a refused create still uploads the whole set first. A failed listing only
		// costs those writes.
		if keys, err := store.List(ctx, SetsPrefix); err == nil {
			for _, k := range keys {
				if sha := shaOfKey(k); sha != "" {
					if _, ok := todo[sha]; ok {
						out[sha] = nil
						delete(todo, sha)
					}
				}
			}
		}
	}
	if bc, ok := store.(blob.BatchCreator); ok && len(todo) > 0 {
		// A file:// store writes them all, then makes them durable together (one syncfs
		// rather than an fsync per set and per directory entry), before returning: the index
		// that names them is written after, so it never names a set a crash could lose.
		shas := make([]string, 0, len(todo))
		objs := make([]blob.Object, 0, len(todo))
		for sha, set := range todo {
			shas = append(shas, sha)
			objs = append(objs, blob.Object{Key: SetKey(sha), Data: set})
		}
		for i, err := range bc.CreateAll(ctx, objs) {
			out[shas[i]] = setWritten(shas[i], err)
		}
		return out
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, setWriters)
	)
	for sha, set := range todo {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := store.Put(ctx, SetKey(sha), set, blob.PutOpts{IfNotExist: true})
			mu.Lock()
			out[sha] = setWritten(sha, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// setWritten is the outcome of a set's create-only write: one that existed is there, with the
// same bytes (sets are content addressed).
func setWritten(sha string, err error) error {
	if err == nil || errors.Is(err, blob.ErrPrecondition) {
		return nil
	}
	return fmt.Errorf("descstore: write set %s: %w", sha, err)
}

// indexAttempts bounds UpdateIndex's read-modify-write loop on index.json. Every publisher
// (each environment's apply, retried ones) races on this one object; with jittered waits a
// dozen concurrent writers settle well within it, where five attempts back to back did not.
const indexAttempts = 20

// UpdateIndex replaces index.json with edit applied to its current content, with
// compare-and-swap on its generation: when another writer got in between, it re-reads and
// applies edit again (so edit must be repeatable), never overwriting the other's entries. The
// caller must have written every set the edited index names (WriteSets) before calling it.
func UpdateIndex(ctx context.Context, store blob.Store, edit func(*Index)) error {
	var lastErr error
	for attempt := range indexAttempts {
		if attempt > 0 {
			if err := blob.Backoff(ctx, attempt); err != nil {
				return fmt.Errorf("descstore: write %s: %w (after %v)", IndexKey, err, lastErr)
			}
		}
		idx, gen, err := ReadIndex(ctx, store)
		if err != nil {
			return err
		}
		edit(idx)
		b, err := EncodeIndex(idx)
		if err != nil {
			return err
		}
		opts := blob.PutOpts{IfGen: gen}
		if gen == "" {
			opts = blob.PutOpts{IfNotExist: true}
		}
		_, err = store.Put(ctx, IndexKey, b, opts)
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("descstore: write %s: %w", IndexKey, err)
		if !errors.Is(err, blob.ErrPrecondition) {
			return lastErr
		}
	}
	return lastErr
}

// Publish writes the sets, then points the index at them: entries maps event IDs to their
// entries, sets maps each entry's SHA256 to the set's bytes (a set the store already holds may
// be left out). Nothing is added to the index unless every set was written.
func Publish(ctx context.Context, store blob.Store, entries map[string]Entry, sets map[string][]byte) error {
	var errs []error
	for _, err := range WriteSets(ctx, store, sets) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return UpdateIndex(ctx, store, func(idx *Index) {
		for id, e := range entries {
			idx.Events[id] = e
		}
	})
}
