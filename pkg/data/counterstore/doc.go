// Package counterstore owns the interface engagement counters are kept behind (SPEC-dataplane
// 12): a store applies one window's increments for one source partition together with that
// partition's offset fence, atomically, so a replayed window is recognised and skipped; it reads
// values and fences. Implementations live in subpackages (redis, embedded) and all pass
// storetest. It knows nothing of Kafka, windows or milestones: a fence is an opaque scope, an
// offset and an outbox the caller wants kept with it.
package counterstore
