// Package delta is the delta_table sink: one Delta Lake table per event with a sinks.delta block,
// created and evolved by writing the transaction log directly (pkg/storage/deltalog), on file:// or gs://
// through a blob.Store. Spark, or any Delta writer, appends the data.
//
// Decisions, in one place:
//
//   - Name and location. A table's name is its location: delta.url (as written in evctl.yaml)
//     joined with the naming template's path (TableName). The schema comes from typemap.Delta,
//     the one mapping. Tables carry the ownership mark evctl.managed=true and evctl.event=<id> in
//     their metaData configuration; a table without it is never changed.
//   - event_date. partition_by: [event_date] adds a derived date column after the contract's
//     columns (see NewTableSpec), nullable exactly when event_time is; writers fill it with
//     to_date(event_time) in UTC. No generation expression: that would need writer version 4
//     and lock out simpler writers.
//   - Create writes version 0 with protocol (1, 2), metaData and commitInfo, put-if-absent.
//   - Evolve (update) commits a new metaData when the change is additive: new nullable
//     columns, top-level or nested (in structs, array elements, map values), NOT NULL relaxed,
//     comments. Live columns keep their order and metadata; new ones go at the end.
//   - Anything else is replace for a staging event and blocked for a prod one. Replace
//     creates the table at <location>__r<n> and records that in <lake>/_evctl/locations/
//     <table path>.json, which Observe follows; the old table is left for cleanup by hand.
//   - Delete (an event removed from the repo, with --allow-destroy) is refused with an error
//     saying what to remove: evctl never removes a table's files.
//   - Column mapping (name or id) is recognised; evctl does not add columns to such a table
//     (blocked, with the reason). Protocols or features it cannot write are blocked likewise.
//   - Commits never overwrite: losing a version to another writer means re-read and retry.
//
// It must not import the CLI, the planner or the apply engine, and reads no configuration.
package delta
