// Package fielddiff compares one message across two serialised FileDescriptorSets, field by
// field (by number, as the wire does): fields added, removed, renamed or retyped, with their
// types and numbers, down through the record types the message nests. A plan shows it for a
// changed contract instead of two sha256s; the breaking check (pkg/contracts/breaking, buf)
// decides what is allowed, this package only describes.
package fielddiff
