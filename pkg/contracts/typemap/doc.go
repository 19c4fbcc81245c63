// Package typemap owns the mapping of a compiled event message (a protoreflect.MessageDescriptor)
// to the three schemas evctl provisions or publishes from it: a BigQuery table schema, a Delta
// Lake table schema (the transaction log's schemaString) and a JSON Schema that validates an
// event as the gateway accepts it (protojson).
//
// It is the one place where those type decisions live; docs/type-mapping.md documents them and
// a test keeps that page and Rows in step. Every mapping is lossless: a column is never narrower
// than the proto field it holds (int64 never lands in a 32-bit column, uint64 goes to a decimal).
// Fields come out in declaration order, so output is deterministic and diffs read like the
// .proto file.
//
// typemap is pure: it does no I/O, knows nothing of YAML, clients or tables that exist, and
// never talks to BigQuery or Delta. Sinks convert its values into their client types.
package typemap
