package state

import (
	"context"
	"errors"

	"github.com/evctl/evctl/pkg/storage/blob"
)

// Updater is Update for a writer that updates one environment's resources.json several times in
// a row (apply records intent and results per wave): it keeps the document and generation of
// its last read or write and applies the next mutate to them, so each update is one
// compare-and-swap write instead of a read and a write (on 1,200 events the document is about a
// megabyte of JSON). If anyone else wrote in between, the write fails its precondition and it
// falls back to Update: re-read, re-apply, retry. Conflicts are therefore still detected and
// never overwritten. An Updater is not safe for concurrent use.
type Updater struct {
	store blob.Store
	env   string
	doc   *Resources // nil: not known, read it
	gen   blob.Gen
}

// NewUpdater returns an Updater for env starting from doc at gen, as Read returned them (the
// Updater then owns doc). A nil doc makes the first update read.
func NewUpdater(store blob.Store, env string, doc *Resources, gen blob.Gen) *Updater {
	return &Updater{store: store, env: env, doc: doc, gen: gen}
}

// Update applies mutate and writes the result with the generation last seen, like Update (same
// errors, same ErrUnchanged). mutate must be safe to run several times.
func (u *Updater) Update(ctx context.Context, mutate func(*Resources) error) error {
	if u.doc != nil {
		doc := u.doc
		u.doc = nil // mutate changes doc in place: trusted again only after a write
		if err := mutate(doc); err != nil {
			if errors.Is(err, ErrUnchanged) {
				u.doc = doc
				return nil
			}
			return err
		}
		gen, err := Write(ctx, u.store, u.env, doc, u.gen)
		if err == nil {
			u.doc, u.gen = doc, gen
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return err
		}
		// Someone else wrote since: start over from what is stored now.
	}
	return Update(ctx, u.store, u.env, mutate)
}
