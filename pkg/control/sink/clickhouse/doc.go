// Package clickhouse provisions an event's ClickHouse resources (SPEC-dataplane 10):
// clickhouse_table, the per-event base table (ReplacingMergeTree, partitioned by month of
// event_time, ordered by sinks.clickhouse.order_by then event_id, columns from
// typemap.ClickHouse), and clickhouse_view, one analytics view: an AggregatingMergeTree target
// table plus the materialized view that fills it, backfilled from the base table when created.
//
// It builds its desired resources from a compiled event (Desire), observes the server over its
// HTTP interface (system.tables, system.columns, SELECT version()), diffs without I/O and applies
// with DDL. It never imports the planner, the apply engine or the CLI, and it never writes event
// rows: pkg/data/ingest/clickhouse does, into the columns this package creates.
package clickhouse
