// Package descstore owns the descriptor store format of SPEC section 4: index.json (which event
// is which message, topic, stage and set), the content-addressed sets under
// sets/<sha256>.binpb, the consumer definitions of SPEC-dataplane 11 (consumers/index.json and
// the content-addressed consumers/defs/<sha256>.json, see ConsumerDef), the Kafka record
// headers that point a record at its set, and the reads every consumer of the store needs (the
// descriptor sink, `evctl breaking --against env:`, the plan's breaking check, the gateway,
// tail and describe, and `evctl route`'s poll).
//
// Writes keep one invariant: an index names only sets (definitions) that exist. Sets and
// definitions are immutable and written create-only; an index is replaced with compare-and-swap
// on its generation, after what it names is in place, so a reader never sees an entry whose
// content is missing and two writers never overwrite each other's entries.
//
// It sits on pkg/storage/blob and must not import the contracts, control, data or discovery
// planes: those read and write the store through it.
package descstore
