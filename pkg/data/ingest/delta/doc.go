// Package delta is the Delta Lake writer of `evctl ingest` (SPEC-dataplane section 9): a
// worker.Handler that turns records (proto wire bytes) into Parquet rows of each event's table,
// writes zstd data files with per-file statistics under the contract's partitions (event_date
// derived from event_time in UTC), and commits them to the transaction log.
//
// Exactly once: every commit carries txn actions {appId: "<group>/<topic>/<partition>",
// version: last offset in the commit}. On assignment the table's newest txn versions are read
// and the worker resumes after them; records at or below them are skipped. Kafka offsets are
// committed only after the Delta commit, so they may lag the table, never lead it. Commits are
// put-if-absent; a lost race reads the winner's commit, and if it holds offsets this writer
// buffered (the partition moved while this worker still wrote it), the buffer is dropped and the
// worker rewinds to the table's position; otherwise the commit is retried at the next version.
//
// Rows are shredded straight from the wire bytes (no proto message is built), per the table's
// live schema: a record whose schema has a field the table lacks waits (worker.WaitError) until
// apply adds the column. Column types follow pkg/contracts/typemap; files follow the table's
// schema; partition columns live in the path and the add action, not in the file.
//
// It does not create or evolve tables (pkg/control/sink/delta does) and never imports the
// control plane's plan or apply.
package delta
