// Package blobtest holds what tests of blob stores share: Run, the conformance suite every
// blob.Store backend must pass, and FakeGCS, which starts a real fake-gcs-server on loopback.
// It is imported only from tests.
package blobtest
