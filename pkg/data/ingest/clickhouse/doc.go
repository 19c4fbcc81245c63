// Package clickhouse writes decoded events into a ClickHouse base table (created by
// pkg/control/sink/clickhouse) in batches, exactly once in effect, and tells a restarted worker
// where each Kafka partition resumes.
//
// The guarantee: after any crash of the writer (kill -9 included) and a restart that resumes
// from Positions, a plain SELECT (no FINAL, no merge awaited) sees each Kafka record once, and the
// table's materialized views count it once. A deduplicating engine cannot give that before its
// merges run, so the writer knows what it wrote, as Delta's txn actions do:
//
//   - every row carries its Kafka coordinates (_topic, _partition, _offset);
//   - a batch is written as one INSERT per month partition of event_time, each a single block
//     (max_insert_block_size above the row count), so each lands as one part or not at all, and
//     the materialized views see exactly the rows of the parts that landed;
//   - after its data, a batch is recorded in evctl_ingest_batches (table, topic, partition,
//     first, last offset): the watermark;
//   - on restart, Positions resumes each partition after its watermark; the first Write of a
//     partition waits until no INSERT a killed writer left running on the server for that
//     partition is still running (each carries a query_id naming the partition; a client killed
//     after sending its INSERT does not stop the server from finishing it), then reads which
//     offsets above the watermark the base table holds (a batch interrupted between its month
//     inserts, or before its record) and skips them.
//
// Handler is all of that as a pkg/data/worker Handler: Assigned → Writer.Positions; Handle →
// decode, check the table has every column of the record's schema (else a WaitError pauses the
// partition until apply adds it), encode into the Buffer (a value the column cannot hold is a
// RecordError, to the DLQ); FlushDue → the contract's flush / max_rows; Flush → Buffer.Flush;
// Revoked/Reset → drop the buffers and what the writer knew of those partitions.
//
// Kafka offsets are committed by the worker after Write returns; they are only a hint. One writer
// owns a partition at a time (the consumer group's assignment); two writers racing on one
// partition during a rebalance could both write a batch, which is the at-least-once window every
// Kafka sink without fencing has. It never imports the control plane's planner or apply engine.
package clickhouse
