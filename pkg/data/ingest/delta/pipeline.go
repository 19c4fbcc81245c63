package delta

import (
	"context"

	"github.com/evctl/evctl/pkg/data/worker"
)

// A streaming commit does not stop the worker while its files are written. Writing out the
// last file of a commit (its last pages, the footer, a create-only write that hashes and syncs
// tens of MB on file://) took a few hundred ms, during which the worker's goroutine waited and
// shredded nothing. So a due commit is cut instead: the records handled so far become a
// generation with its own offsets and files, its open files are staged in the background, the
// next records go to new files, and a later flush commits the generation once its files are
// written (FlushDue reports that moment). At most one generation is cut and uncommitted: a
// flush that finds the next commit due, or a file rotation, or a final flush, first waits for
// it and commits it. Offsets are committed to Kafka only up to what a commit made durable
// (Durable).

// cutGen is a cut, not yet committed generation.
type cutGen struct {
	first, last map[int32]int64 // offsets per Kafka partition
	rows        int
	files       int // its files: the first files of t.staged, then of t.closing
}

// cut makes the records handled since the last cut a generation; the open files must have been
// staged.
func (t *table) cut() *cutGen {
	g := &cutGen{first: t.first, last: t.last, rows: t.rows, files: len(t.staged) + len(t.closing)}
	t.first, t.last, t.rows = map[int32]int64{}, map[int32]int64{}, 0
	t.lastCommit = t.now()
	return g
}

// pendingReady reports, without waiting, whether every file of the pending generation is
// written.
func (t *table) pendingReady() bool {
	for i := 0; i < t.pending.files-len(t.staged) && i < len(t.closing); i++ {
		select {
		case <-t.closing[i].staged:
		default:
			return false
		}
	}
	return true
}

// commitPending waits for the pending generation's files and commits it. On error it stays
// pending (a RewindError drops it with everything else).
func (t *table) commitPending(ctx context.Context) error {
	g := t.pending
	if err := t.awaitStaged(ctx, g.files-len(t.staged)); err != nil {
		return err
	}
	if err := t.commit(ctx, g); err != nil {
		return err
	}
	t.pending = nil
	return nil
}

// firstOf is the first offset of Kafka partition p that this table holds uncommitted.
func (t *table) firstOf(p int32) (int64, bool) {
	first, ok := t.first[p]
	if t.pending != nil {
		if f, held := t.pending.first[p]; held && (!ok || f < first) {
			first, ok = f, true
		}
	}
	return first, ok
}

// Durable returns, for each partition with handled records that no commit holds yet, the
// offset of the first one: the worker commits Kafka offsets no further (worker.Durabler).
func (h *Handler) Durable() map[worker.TopicPartition]int64 {
	out := map[worker.TopicPartition]int64{}
	for topic, t := range h.tables {
		add := func(first map[int32]int64) {
			for p, f := range first {
				tp := worker.TopicPartition{Topic: topic, Partition: p}
				if cur, ok := out[tp]; !ok || f < cur {
					out[tp] = f
				}
			}
		}
		add(t.first)
		if t.pending != nil {
			add(t.pending.first)
		}
	}
	return out
}
