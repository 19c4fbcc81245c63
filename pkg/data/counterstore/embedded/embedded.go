package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/evctl/evctl/pkg/data/counterstore"
)

// FileName is the database file inside the store's folder.
const FileName = "counters.db"

var fencesBucket = []byte("fences")

// counterBucket is prefixed so a counter cannot be named like the fences bucket.
func counterBucket(counter string) []byte { return []byte("c:" + counter) }

// peakBucket holds a counter's peaks (see counterstore.Change).
func peakBucket(counter string) []byte { return []byte("p:" + counter) }

// storedKey prefixes a key with one byte: bbolt refuses empty keys and "" is a valid counter key.
func storedKey(key string) []byte { return append([]byte{'k'}, key...) }

// Store is a counterstore.Store in a bbolt file.
type Store struct{ db *bolt.DB }

var _ counterstore.Store = (*Store)(nil)

// Open opens (creating) the store in dir. It fails with counterstore.ErrInUse when another
// process holds it.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: create %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: 500 * time.Millisecond})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("embedded: open %s: %w", path, counterstore.ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(fencesBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// fence record: 8 bytes offset, 4 bytes count n, n*8 bytes values, then the outbox.
func decodeFence(v []byte) (counterstore.Fence, error) {
	if v == nil {
		return counterstore.Fence{Offset: -1}, nil
	}
	if len(v) < 12 {
		return counterstore.Fence{}, fmt.Errorf("embedded: fence record of %d bytes", len(v))
	}
	f := counterstore.Fence{Offset: int64(binary.BigEndian.Uint64(v))}
	// The count's high bit says each value is followed by its peak (counterstore.NoPeak when the
	// peak was the old value); records written before peaks existed have values only.
	n := binary.BigEndian.Uint32(v[8:])
	width := 8
	if n&withPeaks != 0 {
		n &^= withPeaks
		width = 16
	}
	if len(v) < 12+width*int(n) {
		return counterstore.Fence{}, fmt.Errorf("embedded: fence record of %d bytes for %d values", len(v), n)
	}
	for i := 0; i < int(n); i++ {
		at := 12 + width*i
		f.Values = append(f.Values, int64(binary.BigEndian.Uint64(v[at:])))
		if width == 16 {
			f.Peaks = append(f.Peaks, int64(binary.BigEndian.Uint64(v[at+8:])))
		}
	}
	if rest := v[12+width*int(n):]; len(rest) > 0 {
		f.Outbox = append([]byte(nil), rest...)
	}
	return f, nil
}

const withPeaks = 1 << 31

func encodeFence(offset int64, changes []counterstore.Change, outbox []byte) []byte {
	v := make([]byte, 12+16*len(changes)+len(outbox))
	binary.BigEndian.PutUint64(v, uint64(offset))
	binary.BigEndian.PutUint32(v[8:], uint32(len(changes))|withPeaks)
	for i, c := range changes {
		binary.BigEndian.PutUint64(v[12+16*i:], uint64(c.New))
		peak := int64(counterstore.NoPeak)
		if c.Peak > c.Old {
			peak = c.Peak
		}
		binary.BigEndian.PutUint64(v[12+16*i+8:], uint64(peak))
	}
	copy(v[12+16*len(changes):], outbox)
	return v
}

// Apply writes the window in one transaction.
func (s *Store) Apply(ctx context.Context, b counterstore.Batch) (counterstore.Result, error) {
	if err := ctx.Err(); err != nil {
		return counterstore.Result{}, err
	}
	var res counterstore.Result
	err := s.db.Update(func(tx *bolt.Tx) error {
		fences := tx.Bucket(fencesBucket)
		cur, err := decodeFence(fences.Get([]byte(b.Scope)))
		if err != nil {
			return err
		}
		if cur.Offset != b.Prev {
			return nil
		}
		res = counterstore.Result{Applied: true, Changes: make([]counterstore.Change, len(b.Increments))}
		var bucket, peaks *bolt.Bucket
		var bucketOf string
		for i, inc := range b.Increments {
			if bucket == nil || bucketOf != inc.Counter {
				if bucket, err = tx.CreateBucketIfNotExists(counterBucket(inc.Counter)); err != nil {
					return err
				}
				if peaks, err = tx.CreateBucketIfNotExists(peakBucket(inc.Counter)); err != nil {
					return err
				}
				bucketOf = inc.Counter
			}
			key := storedKey(inc.Key)
			var old int64
			if v := bucket.Get(key); len(v) == 8 {
				old = int64(binary.BigEndian.Uint64(v))
			}
			// The peak is kept from a key's first fall on (see counterstore.Change).
			peak := old
			if v := peaks.Get(key); len(v) == 8 {
				peak = max(old, int64(binary.BigEndian.Uint64(v)))
			}
			// bbolt keeps the slices given to Put until the transaction ends: one each.
			if inc.Delta < 0 {
				if err := peaks.Put(key, binary.BigEndian.AppendUint64(nil, uint64(peak))); err != nil {
					return err
				}
			}
			if err := bucket.Put(key, binary.BigEndian.AppendUint64(nil, uint64(old+inc.Delta))); err != nil {
				return err
			}
			res.Changes[i] = counterstore.Change{Counter: inc.Counter, Key: inc.Key, Old: old, New: old + inc.Delta, Peak: peak}
		}
		return fences.Put([]byte(b.Scope), encodeFence(b.Offset, res.Changes, b.Outbox))
	})
	if err != nil {
		return counterstore.Result{}, fmt.Errorf("embedded: apply %s@%d: %w", b.Scope, b.Offset, err)
	}
	return res, nil
}

// Get reads values in one read transaction.
func (s *Store) Get(ctx context.Context, counter string, keys []string) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]int64, len(keys))
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(counterBucket(counter))
		if b == nil {
			return nil
		}
		for i, k := range keys {
			if v := b.Get(storedKey(k)); len(v) == 8 {
				out[i] = int64(binary.BigEndian.Uint64(v))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: get %s: %w", counter, err)
	}
	return out, nil
}

// Fence reads a scope's fence.
func (s *Store) Fence(ctx context.Context, scope string) (counterstore.Fence, error) {
	var f counterstore.Fence
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		f, err = decodeFence(tx.Bucket(fencesBucket).Get([]byte(scope)))
		return err
	})
	if err != nil {
		return counterstore.Fence{}, fmt.Errorf("embedded: fence %s: %w", scope, err)
	}
	return f, nil
}

// Close closes the file and releases its lock.
func (s *Store) Close() error { return s.db.Close() }
