package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// dirLockName is the flock file a directory of a file:// store gets on its first locked write.
// Its name starts with a dot, so it can never collide with a key and List skips it.
const dirLockName = ".lock"

// fileStore keeps one object per file under root. Writes go to a temporary file in the
// object's directory and are renamed (or hard-linked, for create-only) into place, so a crash
// leaves the old object or the new one. Every mutation but a create-only write (which link(2)
// makes atomic by itself) holds an flock on the directory's lock file, which makes the
// read-compare-write of a conditional write atomic against other goroutines and other
// processes; the kernel drops the lock when a process dies, so a crash never wedges the store.
// Reads take no lock: rename is atomic.
type fileStore struct {
	url  string
	root string
	// queues holds a channel of capacity 1 per directory written: lockDir's in-process line.
	queues sync.Map
	// swept holds the directories whose leftover temporary files were removed (filetmp.go).
	swept sync.Map
}

func openFile(url, path string) (*fileStore, error) {
	if path == "" {
		return nil, fmt.Errorf("blob: open %q: empty path", url)
	}
	root, err := filepath.Abs(filepath.FromSlash(path))
	if err != nil {
		return nil, fmt.Errorf("blob: open %q: %w", url, err)
	}
	return &fileStore{url: url, root: root}, nil
}

func (s *fileStore) URL() string  { return s.url }
func (s *fileStore) Close() error { return nil }

func (s *fileStore) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

// Get implements Store.
func (s *fileStore) Get(ctx context.Context, key string) ([]byte, Gen, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, "", fmt.Errorf("blob: get %q from %s: %w", key, s.url, err)
	}
	data, gen, err := readFile(s.path(key))
	if err != nil {
		return nil, "", fmt.Errorf("blob: get %q from %s: %w", key, s.url, err)
	}
	return data, gen, nil
}

// Put implements Store.
func (s *fileStore) Put(ctx context.Context, key string, data []byte, opts PutOpts) (Gen, error) {
	gen, err := s.put(ctx, key, data, opts)
	if err != nil {
		return "", fmt.Errorf("blob: put %q to %s: %w", key, s.url, err)
	}
	return gen, nil
}

func (s *fileStore) put(ctx context.Context, key string, data []byte, opts PutOpts) (Gen, error) {
	if err := s.check(ctx, key); err != nil {
		return "", err
	}
	if err := checkPutOpts(opts); err != nil {
		return "", err
	}
	p := s.path(key)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if !opts.IfNotExist {
		// A create-only write needs no lock: link(2) fails when the target exists, and no
		// conditional writer or deleter can act on an object that does not exist yet. Skipping
		// the lock lets concurrent creates in one directory (descriptor sets) overlap their
		// fsyncs instead of queueing on the directory.
		unlock, err := s.lockDir(ctx, dir)
		if err != nil {
			return "", err
		}
		defer unlock()
	}

	if opts.IfGen != "" {
		_, cur, err := readFile(p)
		switch {
		case errors.Is(err, ErrNotExist):
			return "", fmt.Errorf("%w: object is gone, want generation %s", ErrPrecondition, opts.IfGen)
		case err != nil:
			return "", err
		case cur != opts.IfGen:
			return "", fmt.Errorf("%w: generation is %s, want %s", ErrPrecondition, cur, opts.IfGen)
		}
	}
	s.sweepOnce(dir)
	tmp, gen, err := writeTemp(dir, data)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp) // no-op once renamed; cleans up after a failed link or rename
	if opts.IfNotExist {
		// link(2) fails when the target exists, so create-only holds even against a writer
		// that does not take the directory lock.
		if err := os.Link(tmp, p); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return "", fmt.Errorf("%w: object exists", ErrPrecondition)
			}
			return "", err
		}
	} else if err := os.Rename(tmp, p); err != nil {
		return "", err
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return gen, nil
}

// Delete implements Store.
func (s *fileStore) Delete(ctx context.Context, key string, ifGen Gen) error {
	if err := s.delete(ctx, key, ifGen); err != nil {
		return fmt.Errorf("blob: delete %q from %s: %w", key, s.url, err)
	}
	return nil
}

func (s *fileStore) delete(ctx context.Context, key string, ifGen Gen) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	p := s.path(key)
	dir := filepath.Dir(p)
	if _, err := os.Stat(dir); err != nil {
		return ErrNotExist // no directory, so no object (and no lock file to create)
	}
	unlock, err := s.lockDir(ctx, dir)
	if err != nil {
		return err
	}
	defer unlock()
	if ifGen != "" {
		_, cur, err := readFile(p)
		if err != nil {
			return err
		}
		if cur != ifGen {
			return fmt.Errorf("%w: generation is %s, want %s", ErrPrecondition, cur, ifGen)
		}
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ErrNotExist
		}
		return err
	}
	return syncDir(dir)
}

// List implements Store.
func (s *fileStore) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("blob: list %q in %s: %w", prefix, s.url, err)
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, fmt.Errorf("blob: list %q in %s: %w", prefix, s.url, err)
	}
	start := s.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = s.path(prefix[:i])
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if p == start {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		switch {
		case strings.HasPrefix(d.Name(), "."): // lock and temporary files, never keys
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case d.IsDir():
			// Descend only where keys can still match prefix.
			if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		case d.Type().IsRegular() && strings.HasPrefix(key, prefix):
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("blob: list %q in %s: %w", prefix, s.url, err)
	}
	sort.Strings(keys)
	return keys, nil
}

func (s *fileStore) check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return checkKey(key)
}

// readFile reads an object and its generation from one open file, so the two always agree
// even while another writer renames a new version into place.
func readFile(p string) ([]byte, Gen, error) {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, "", ErrNotExist
		}
		return nil, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	if !fi.Mode().IsRegular() {
		return nil, "", ErrNotExist // a directory is a key prefix, not an object
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, "", err
	}
	return data, fileGen(fi, data), nil
}

// fileGen derives a generation from the file's inode, modification time and size plus a hash
// of its content. Every write creates a new file (new inode while the old one still exists)
// with a new mtime; the hash guards against inode reuse within one mtime tick. Two versions
// can only share a generation if they also share their content, which makes a
// compare-and-swap between them harmless.
func fileGen(fi fs.FileInfo, data []byte) Gen {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = uint64(st.Ino)
	}
	sum := sha256.Sum256(data)
	return Gen(fmt.Sprintf("%d-%d-%d-%s", ino, fi.ModTime().UnixNano(), fi.Size(), hex.EncodeToString(sum[:8])))
}

// writeTemp writes data durably to a new hidden file in dir and returns its path and the
// generation the object will have once the file is renamed or linked into place (both keep
// the inode and the modification time).
func writeTemp(dir string, data []byte) (string, Gen, error) {
	f, err := os.CreateTemp(dir, tempPattern())
	if err != nil {
		return "", "", err
	}
	name := f.Name()
	fail := func(err error) (string, Gen, error) {
		f.Close()
		os.Remove(name)
		return "", "", err
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", "", err
	}
	return name, fileGen(fi, data), nil
}

// syncDir makes a rename, link or remove in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lockDir queues behind the store's other writers of dir in this process, then takes the
// exclusive flock on dir's lock file, and returns the function that releases both. Waiting in
// line wakes a writer as soon as the holder is done, where polling the flock with growing
// sleeps left a directory idle most of the time under contention (concurrent descriptor
// publishing); the flock then only arbitrates between processes.
func (s *fileStore) lockDir(ctx context.Context, dir string) (func(), error) {
	q, _ := s.queues.LoadOrStore(dir, make(chan struct{}, 1))
	queue := q.(chan struct{})
	select {
	case queue <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("lock %s: %w", dir, ctx.Err())
	}
	unlock, err := flockDir(ctx, dir)
	if err != nil {
		<-queue
		return nil, err
	}
	return func() { unlock(); <-queue }, nil
}

// flockDir takes an exclusive flock on dir's lock file, polling so that ctx can cancel the
// wait, and returns the function that releases it.
func flockDir(ctx context.Context, dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, dirLockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing the descriptor releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}
