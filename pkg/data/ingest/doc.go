// Package ingest runs `evctl ingest` (SPEC-dataplane section 9): for each sink asked for
// (delta, bigquery) one worker.Worker in the consumer group evctl.<env>.ingest.<sink>, over the
// topics of the events that have that sink, with the sink's handler (ingest/delta,
// ingest/bigquery). It turns the contracts and the environment into those workers' settings:
// topics and tables from the naming templates, the ingestion block (mode, flush, max_rows,
// cadence) per event.
//
// It does not create tables (apply does) and does not parse flags (pkg/cli does).
package ingest
