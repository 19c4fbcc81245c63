// Package worker is the one model every long-running data-plane job follows (SPEC-dataplane
// section 8): `evctl ingest`, `evctl route` and `evctl count` are each a Handler run by a Worker.
//
// What the Worker owns:
//   - Consumer group membership (franz-go kgo): the cooperative-sticky balancer, auto-commit off,
//     rebalances blocked while a polled batch is processed (BlockRebalanceOnPoll), so the Handler
//     is never called concurrently and never across a rebalance.
//   - Decoding: each record's evctl-schema header names the descriptor set (by sha256) its value
//     was encoded with; the set is fetched from the descriptor store once and cached. A record
//     that cannot be decoded goes to the dead-letter topic <topic>.dlq with the headers
//     evctl-dlq-reason, evctl-dlq-worker, evctl-dlq-topic, evctl-dlq-partition and
//     evctl-dlq-offset (plus its own headers, key and value). It is never dropped: if the DLQ
//     cannot be written the worker retries with backoff and does not move past the record.
//   - Offsets: committed to Kafka only after Handler.Flush reports everything handled durable.
//     A Handler that delivers in the background (route) implements Durabler: offsets are then
//     committed up to its first record not yet durable, so Flush and rebalances never wait on it.
//   - Backoff: a Flush or descriptor-store read that fails is retried with capped exponential
//     backoff; the worker never skips records it could not write and never exits in a loop.
//   - Pausing: a Handler that returns a *WaitError for a record (a schema the sink cannot take
//     yet) pauses that partition; the record and the ones after it are retried every
//     Config.WaitRetry, in order, and the partition resumes when they are taken. A WaitError with
//     Busy set is back-pressure (route's lanes are full): the same pause, logged at debug level.
//   - /metrics (Prometheus), /healthz, /readyz on Config.Listen, and graceful stop: when Run's
//     context ends it flushes, commits what was written and leaves the group.
//
// The Handler contract (what route and count implement too):
//   - Assigned(ctx, parts) is called when partitions are assigned, before consumption starts.
//     It returns the position the sink itself recorded for each partition (Delta txn versions,
//     a store fence): the worker starts there instead of the group's committed offset. This is
//     how exactly-once comes from the sink: offsets in Kafka may lag the sink, never lead it.
//   - Handle(ctx, rec) takes one decoded record into the handler's buffer. It does no slow I/O.
//     Errors: a *RecordError sends the record to the DLQ with its reason; a *WaitError pauses the
//     partition; any other error is retried with backoff.
//   - FlushDue(now) says whether Flush should run (rows or time thresholds).
//   - Flush(ctx) makes every record handled so far durable and returns true, or returns false
//     when it only staged them (batch mode) so offsets must not be committed yet. A *RewindError
//     means the handler dropped its buffer (another writer owns a partition now): the worker
//     asks Assigned again for every partition and seeks there.
//   - Revoked(ctx, parts) is called after a final Flush and offset commit when partitions leave
//     (rebalance or stop), and Lost when they were taken away without a chance to commit; the
//     handler forgets their state.
//
// It must not import pkg/control/plan, pkg/control/apply or pkg/cli. Descriptor-store access is
// in registry.go only.
package worker
