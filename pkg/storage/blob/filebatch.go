package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Object is one object of a CreateAll.
type Object struct {
	Key  string
	Data []byte
}

// BatchCreator is a Store that creates many objects at once more cheaply than one Put each.
// CreateAll creates each object that does not exist (create-only, as Put with IfNotExist) and
// returns one error per object, in order (ErrPrecondition when it existed); every object it
// reports created is durable when it returns, like a Put. Stores without a cheaper way do not
// implement it: callers Put each object then.
type BatchCreator interface {
	CreateAll(ctx context.Context, objs []Object) []error
}

// createWriters bounds CreateAll's writes in flight.
const createWriters = 16

// CreateAll implements BatchCreator. Each object is written as Put writes it (a temporary file
// hard-linked into place, so a crash leaves it whole or absent) but without an fsync of its
// own; one syncfs(2) of the store's file system then makes every file and directory entry
// durable together, before CreateAll returns. For 10,000 descriptor sets of an apply from
// empty that is one flush instead of 20,000 fsyncs (a file and its directory each), which
// queued on the disk's journal; what names the objects (the descriptor index) is written only
// after CreateAll returned, so it never names a set a crash could lose.
func (s *fileStore) CreateAll(ctx context.Context, objs []Object) []error {
	errs := make([]error, len(objs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, createWriters)
	for i, o := range objs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = s.createUnsynced(ctx, o.Key, o.Data)
		})
	}
	wg.Wait()
	created := false
	for _, err := range errs {
		created = created || err == nil
	}
	if !created {
		return s.wrapAll(objs, errs)
	}
	if err := syncFS(s.root); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("sync: %w", err)
			}
		}
	}
	return s.wrapAll(objs, errs)
}

func (s *fileStore) wrapAll(objs []Object, errs []error) []error {
	for i, err := range errs {
		if err != nil {
			errs[i] = fmt.Errorf("blob: put %q to %s: %w", objs[i].Key, s.url, err)
		}
	}
	return errs
}

// createUnsynced is put with IfNotExist, without fsyncs.
func (s *fileStore) createUnsynced(ctx context.Context, key string, data []byte) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	p := s.path(key)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.sweepOnce(dir)
	f, err := os.CreateTemp(dir, tempPattern())
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // the object is its hard link; this name goes either way
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: object exists", ErrPrecondition)
		}
		return err
	}
	return nil
}
