package delta

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// maxConflictReads bounds how many versions one commit catches up on before giving up for now
// (the worker retries the flush with backoff).
const maxConflictReads = 1000

// fileRows bounds the rows of one open file: a file this full is written out (not committed)
// at the next flush, so memory stays bounded whatever max_rows and the backlog are.
const fileRows = rowGroupRows

// commitDue reports whether the next flush commits: the flush interval or max_rows (streaming),
// the cadence (batch).
func (t *table) commitDue() bool {
	if t.rows == 0 {
		return false
	}
	if t.cfg.Batch {
		return t.now().Sub(t.lastCommit) >= t.cfg.Cadence
	}
	return t.rows >= t.cfg.MaxRows || t.now().Sub(t.lastCommit) >= t.cfg.Flush
}

// rotateDue reports whether the open files are full enough to be written out.
func (t *table) rotateDue() bool {
	return t.openRows >= min(t.cfg.MaxRows, fileRows)
}

// due reports whether the table should write files or commit now.
func (t *table) due() bool {
	return t.commitDue() || t.rotateDue() || t.pending != nil && t.pendingReady()
}

// flush writes the open files and, when a commit is due (or final), commits them with the txn
// versions of every partition they hold. durable reports that a commit made records durable
// (or that nothing is buffered); Durable says which records still are not.
//
// A streaming commit that is due is cut (pipeline.go): its files are staged in the background
// and it is committed by a later flush once they are written, while the next records are
// handled. A final flush, and batch mode, commit before they return.
func (t *table) flush(ctx context.Context, final bool) (durable bool, err error) {
	if t.conflict != "" {
		return false, &worker.RewindError{Reason: fmt.Sprintf("table %s: %s", t.cfg.Location, t.conflict)}
	}
	committed := false
	if t.pending != nil && (final || t.commitDue() || t.rotateDue() || t.pendingReady()) {
		if err := t.commitPending(ctx); err != nil {
			return false, err
		}
		committed = true
		if !final && !t.commitDue() && !t.rotateDue() {
			return true, nil // the open files keep filling
		}
	}
	// The previous generation of files first (it had a whole file's time to be written), so
	// at most one is in flight.
	if err := t.awaitStaged(ctx, len(t.closing)); err != nil {
		return false, err
	}
	for key, fw := range t.open {
		t.stageAsync(ctx, fw)
		delete(t.open, key)
	}
	t.lastFile = nil
	t.openRows = 0
	if len(t.last) == 0 {
		t.lastCommit = t.now()
		return true, nil
	}
	if !final && !t.commitDue() {
		return committed, nil // files written ahead; committed at the flush interval or cadence
	}
	t.pending = t.cut()
	if !final && !t.cfg.Batch {
		return committed, nil // committed once its files are written
	}
	if err := t.commitPending(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// commit writes g's staged files and txn actions as the next version, put-if-absent. When
// another writer took that version, its commit is read: if it wrote offsets this table holds
// (a partition moved while this worker still had it), everything buffered is dropped and the
// worker rewinds; otherwise the commit is retried at the next version.
func (t *table) commit(ctx context.Context, g *cutGen) error {
	now := t.now().UnixMilli()
	files := t.staged[:g.files]
	actions := make([]deltalog.Action, 0, len(files)+len(g.last)+1)
	parts := make([]int32, 0, len(g.last))
	for p := range g.last {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		actions = append(actions, deltalog.Action{Txn: &deltalog.Txn{AppID: t.appID(p), Version: g.last[p], LastUpdated: &now}})
	}
	for i := range files {
		actions = append(actions, deltalog.Action{Add: &files[i]})
	}
	op := "STREAMING UPDATE"
	if t.cfg.Batch {
		op = "WRITE"
	}
	actions = append(actions, deltalog.Action{CommitInfo: map[string]any{"timestamp": now, "operation": op,
		"operationParameters": map[string]any{"outputMode": "Append"}, "isBlindAppend": true, "engineInfo": "evctl",
		"operationMetrics": map[string]any{"numFiles": strconv.Itoa(len(files)), "numOutputRows": strconv.Itoa(g.rows)}}})
	for reads := 0; ; reads++ {
		v := t.version + 1
		err := deltalog.Commit(ctx, t.cfg.Store, t.cfg.Location, v, actions)
		if err == nil {
			t.committed(ctx, v, g)
			return nil
		}
		if !errors.Is(err, deltalog.ErrConflict) {
			return err
		}
		if reads >= maxConflictReads {
			return fmt.Errorf("delta: %s: still behind after reading %d concurrent commits: %w", t.cfg.Location, reads, err)
		}
		if err := t.catchUp(ctx, v); err != nil {
			return err
		}
	}
}

// catchUp reads the commit another writer made at version v and checks it against what this
// table buffers.
func (t *table) catchUp(ctx context.Context, v int64) error {
	b, _, err := t.cfg.Store.Get(ctx, deltalog.CommitKey(t.cfg.Location, v))
	if errors.Is(err, blob.ErrNotExist) {
		// The version was taken but is not visible yet (eventually consistent listing): re-read.
		return t.refresh(ctx)
	}
	if err != nil {
		return fmt.Errorf("delta: %s: read concurrent commit %d: %w", t.cfg.Location, v, err)
	}
	actions, err := deltalog.ParseCommit(b)
	if err != nil {
		return fmt.Errorf("delta: %s: concurrent commit %d: %w: %v", t.cfg.Location, v, deltalog.ErrCorrupt, err)
	}
	for _, a := range actions {
		switch {
		case a.Txn != nil:
			ps, ok := strings.CutPrefix(a.Txn.AppID, t.app)
			if !ok {
				continue
			}
			n, err := strconv.Atoi(ps)
			if err != nil {
				continue
			}
			p := int32(n)
			if first, held := t.firstOf(p); held && a.Txn.Version >= first {
				t.conflict = fmt.Sprintf("partition %d: version %d by another writer holds offsets up to %d, this worker buffered from %d", p, v, a.Txn.Version, first)
				return &worker.RewindError{Reason: fmt.Sprintf("table %s: %s", t.cfg.Location, t.conflict)}
			}
			t.txns[p] = max(t.txns[p], a.Txn.Version)
		case a.Protocol != nil:
			if err := deltalog.CheckWrite(*a.Protocol); err != nil {
				return fmt.Errorf("delta: %s: %w", t.cfg.Location, err)
			}
		case a.MetaData != nil:
			// A schema change by apply: the staged files stay valid (changes are additive); new
			// records are bound to the new schema.
			t.lastRefresh = time.Time{}
		}
	}
	t.version = v
	for _, a := range actions {
		if a.MetaData != nil {
			return t.refresh(ctx)
		}
	}
	return nil
}

func (t *table) committed(ctx context.Context, v int64, g *cutGen) {
	t.version = v
	for p, last := range g.last {
		t.txns[p] = last
	}
	t.log.Debug("delta commit", "version", v, "files", g.files, "rows", g.rows)
	t.statsWritten += int64(g.rows)
	t.staged = append(t.staged[:0], t.staged[g.files:]...)
	if v > 0 && v%int64(t.cfg.CheckpointInterval) == 0 {
		t.checkpoint(ctx, v)
	}
}

// checkpoint writes the checkpoint of version v. A failure is logged only: checkpoints speed
// reads up, they are never needed for correctness.
func (t *table) checkpoint(ctx context.Context, v int64) {
	snap, err := deltalog.Read(ctx, t.cfg.Store, t.cfg.Location)
	if err == nil && snap.Version >= v {
		err = deltalog.WriteCheckpoint(ctx, t.cfg.Store, t.cfg.Location, snap)
	}
	if err != nil {
		t.log.Warn("delta checkpoint failed (reads stay correct, only slower)", "version", v, "err", err)
	}
}

// reset drops everything buffered or staged (staged files stay unreferenced, for VACUUM).
func (t *table) reset() {
	t.dropFiles()
	t.staged, t.rows, t.openRows, t.conflict, t.pending = t.staged[:0], 0, 0, "", nil
	clear(t.first)
	clear(t.last)
	t.loaded = false
	clear(t.txns)
}
