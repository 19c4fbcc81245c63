package delta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// Staging a file (its last pages and footer, then a create-only write, which on file:// syncs
// tens of MB to disk) takes long enough that the worker's goroutine would otherwise sit idle,
// and the encoders with it, every time a file fills. So a file is staged on a goroutine of its
// own while the next records are shredded into the next file; the table waits for it before it
// commits, and before it hands the next generation of files over (at most one generation is in
// flight, which bounds memory). A failed background write is retried on the worker's
// goroutine, with the worker's backoff, when the table waits for it.

// stageTimeout bounds a background write of one data file.
const stageTimeout = 5 * time.Minute

// stageAsync closes fw and writes it in the background; awaitStaged collects the result.
func (t *table) stageAsync(ctx context.Context, fw *fileWriter) {
	fw.staged = make(chan struct{})
	t.closing = append(t.closing, fw)
	key := t.dataKey(fw)
	// ctx is the flush's, which ends when the flush returns: the write gets its own deadline
	// (a write that fails or times out is retried by awaitStaged with the caller's context).
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stageTimeout)
	go func() {
		defer close(fw.staged)
		defer cancel()
		if err := fw.finish(); err != nil {
			return // fw.err: awaitStaged rewinds
		}
		fw.putErr = put(wctx, t.cfg.Store, key, fw)
	}()
}

// awaitStaged waits for the first n files staged in the background (all of them when n is
// len(t.closing)) and adds their add actions to t.staged, in the order they were staged. A
// file the encoder could not write is a *worker.RewindError; a failed write is retried here
// and, failing again, returned (the files stay queued for the next attempt).
func (t *table) awaitStaged(ctx context.Context, n int) error {
	for ; n > 0 && len(t.closing) > 0; n-- {
		fw := t.closing[0]
		select {
		case <-fw.staged:
		case <-ctx.Done():
			return ctx.Err()
		}
		if fw.err != nil {
			// The encoder failed (a row parquet-go refused): this file cannot be written, so
			// everything buffered is dropped and re-read from the table's position.
			return &worker.RewindError{Reason: fmt.Sprintf("table %s: %v", t.cfg.Location, fw.err)}
		}
		if fw.putErr != nil {
			if err := put(ctx, t.cfg.Store, t.dataKey(fw), fw); err != nil {
				return err
			}
			fw.putErr = nil
		}
		pv := map[string]string{}
		for i, pc := range fw.l.partitions {
			pv[pc.name] = fw.parts[i]
		}
		t.staged = append(t.staged, deltalog.AddFile{Path: fw.relPath(), PartitionValues: pv, Size: int64(fw.buf.Len()),
			ModificationTime: t.now().UnixMilli(), DataChange: true, Stats: fw.stats.json(fw.l)})
		t.recycle(fw.buf)
		fw.buf = nil
		t.closing = t.closing[1:]
	}
	if len(t.closing) == 0 {
		t.closing = nil
	}
	return nil
}

// put writes a closed file under its key, create-only: it exists already when an earlier
// attempt of this upload landed (the name is fixed at creation).
func put(ctx context.Context, store blob.Store, key string, fw *fileWriter) error {
	_, err := store.Put(ctx, key, fw.buf.Bytes(), blob.PutOpts{IfNotExist: true})
	if err != nil && !errors.Is(err, blob.ErrPrecondition) {
		return fmt.Errorf("delta: %s: write data file: %w", key, err)
	}
	return nil
}

// relPath is the file's path relative to the table root.
func (fw *fileWriter) relPath() string {
	if fw.dir != "" {
		return fw.dir + "/" + fw.name
	}
	return fw.name
}

// dataKey is the file's key in the store.
func (t *table) dataKey(fw *fileWriter) string {
	if t.cfg.Location != "" {
		return t.cfg.Location + "/" + fw.relPath()
	}
	return fw.relPath()
}

// dropFiles abandons every open file and every file being staged (their encoders and writes
// end first; what was written stays unreferenced, for VACUUM).
func (t *table) dropFiles() {
	for key, fw := range t.open {
		_ = fw.finish()
		delete(t.open, key)
	}
	for _, fw := range t.closing {
		<-fw.staged
	}
	t.closing = nil
	t.lastFile = nil
}
