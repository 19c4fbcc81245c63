// Package deltalog reads and writes the Delta Lake transaction log (delta-io PROTOCOL.md) through
// a blob.Store, so a table on file:// and one on gs:// behave the same.
//
// Read reconstructs a table's current snapshot as Delta readers do: the newest complete
// checkpoint (found through _last_checkpoint or the listing; classic single-file or multi-part
// Parquet, read with parquet-go), then every JSON commit after it in version order; the latest
// protocol and metaData win and add/remove actions are reconciled by (path, deletion vector).
// It refuses what it cannot read correctly with an error wrapping ErrUnsupported (a reader
// version above 3, an unknown reader feature, v2 checkpoints) and reports a damaged log with
// ErrCorrupt (a truncated line, a gap in versions), never a guess.
//
// Commit writes the next version put-if-absent (blob.PutOpts.IfNotExist: GCS DoesNotExist
// precondition, link(2) on file://); a version that already exists is ErrConflict, and the
// caller re-reads and retries.
//
// The package knows the log format only: it owns no naming, no evctl ownership marks and no
// schema mapping (pkg/contracts/typemap and pkg/control/sink/delta do). It never writes data files;
// WriteCheckpoint writes classic checkpoints (protocol, metaData, txn, live adds). Snapshot.Txns
// exposes the txn versions exactly-once writers resume from.
package deltalog
