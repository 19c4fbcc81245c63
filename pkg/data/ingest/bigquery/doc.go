// Package bigquery is `evctl ingest --sink bigquery`. Batch mode (ingestion.mode: batch) is
// BatchHandler in batch.go: Parquet files staged in GCS, one load job per table per cadence,
// exactly once through the load manifests of manifest.go (a restart resumes after the offsets
// of the loads that are DONE, whatever Kafka's committed offsets say).
// Streaming mode is Handler: a worker.Handler that
// turns each Kafka record (the wire bytes of its event's message) into a row of the event's
// BigQuery table and appends the rows, batched at each flush, through the BigQuery Storage
// Write API (cloud.google.com/go/bigquery/storage/managedwriter) on the table's _default
// stream. Flush waits for every append's result before reporting the batch durable, so the
// worker commits Kafka offsets only for rows BigQuery acknowledged.
//
// Streaming guarantee: at least once. A flush that fails (BigQuery down, a timeout) keeps its rows and is
// retried by the worker with backoff; rows an append wrote before the failure may be written
// again, so readers deduplicate on event_id. Exactly once would need explicit PENDING or
// COMMITTED streams with append offsets equal to Kafka offsets (ALREADY_EXISTS treated as
// success); the emulator used in tests ignores offsets, so it is not claimed here.
//
// The row descriptor comes from the table schema (typemap.BigQuery of the event's message)
// through managedwriter/adapt, normalized; the conversion maps Timestamp to microseconds,
// google.type.Date to days, enums to their names, wrappers to their value, maps to repeated
// key/value records, JSON-typed messages to protojson text and uint64 to NUMERIC as decimal text
// (the row message declares NUMERIC/BIGNUMERIC fields as strings, which the API accepts). A value
// the table's column cannot hold (a uint64 above 2^63-1 in an INTEGER column of a hand-made or
// adopted table) makes the record a bad record: to the DLQ with the field path.
package bigquery
