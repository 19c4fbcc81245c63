// Package blob owns object storage for evctl behind one small interface, Store, with two
// backends chosen by URL: gs://bucket/prefix (Google Cloud Storage, or fake-gcs-server through
// STORAGE_EMULATOR_HOST) and file://path (a local directory).
//
// Both backends give the same guarantees, which the state store and the descriptor store build
// on: a write is atomic (a reader sees the old object or the new one, never a torn one), a
// create-only write fails with ErrPrecondition when the object exists, and a write or delete
// conditioned on a generation fails with ErrPrecondition when another writer got there first,
// even when that writer is another process.
//
// The package knows nothing about what the objects mean; it must not import other evctl
// packages. The shared conformance suite every backend passes lives in package blobtest.
package blob
