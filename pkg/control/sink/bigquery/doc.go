// Package bigquery provisions an event's BigQuery table (kind "bigquery_table"): it creates the
// table from the contract's mapped schema (pkg/contracts/typemap, the one mapping) with time partitioning,
// clustering, a description and evctl's labels; evolves it in place where BigQuery allows (new
// NULLABLE or REPEATED columns, nested ones too, REQUIRED relaxed to NULLABLE, descriptions,
// labels), guarded by the table's etag so a concurrent change is detected rather than
// overwritten; and proposes a replace (staging) or a block (prod) for everything else.
//
// Resources are named by BigQuery's fully qualified table id, "project.dataset.table", so a
// resource recorded in state can be observed and deleted with nothing but its name.
//
// Ownership is marked on the table with the label evctl-managed=true; Apply never deletes or
// replaces a table without it. Columns are never dropped: a column present live but absent from
// the contract (added by hand) is reported, and kept.
//
// It must not import the CLI, the planner or the apply engine, and must not read evctl.yaml or
// environment variables: the caller passes a Config (pkg/control/envconn reads endpoint_env).
package bigquery
