// Package descstore owns the descriptor store format of SPEC section 4: index.json (which event
// is which message, topic, stage and set), the content-addressed sets under
// sets/<sha256>.binpb, the Kafka record headers that point a record at its set, and the reads
// every consumer of the store needs (the descriptor sink, `evctl breaking --against env:`, the
// plan's breaking check, the gateway, tail and describe).
//
// Writes keep one invariant: the index names only sets that exist. Sets are immutable and
// written create-only; the index is replaced with compare-and-swap on its generation, after the
// sets it names are in place, so a reader never sees an index entry whose set is missing and two
// writers never overwrite each other's entries.
//
// It sits on pkg/storage/blob and must not import the contracts, control, data or discovery
// planes: those read and write the store through it.
package descstore
