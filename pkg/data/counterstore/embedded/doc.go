// Package embedded is the on-disk counter store evctl dev uses (file://.evctl/counters), on bbolt
// (go.etcd.io/bbolt): one bucket per counter (key → int64), one bucket of fences (scope →
// offset, outbox). A window is one bbolt read-write transaction, so the increments, the fence and
// the outbox commit together or not at all, and survive kill -9 (bbolt fsyncs on commit). bbolt
// holds an exclusive file lock: one process at a time, which is what the environment promises.
package embedded
