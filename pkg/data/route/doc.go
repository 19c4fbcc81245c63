// Package route is `evctl route` (SPEC-dataplane 11): one worker.Handler per consumer (group
// evctl.<env>.consumer.<name>) that filters each event with the consumer's where, renders it
// through its template (pkg/contracts/transform) and delivers the body over HTTP
// (Idempotency-Key: <event_id>) or to a Kafka topic (key: the event's key), retrying 429, 5xx,
// timeouts and retriable Kafka errors with exponential backoff and jitter (honouring
// Retry-After) up to max_attempts, and sending what cannot be delivered to the consumer's DLQ
// <env>.consumers.<name>.dlq with the original bytes and evctl-dlq-reason, evctl-dlq-attempts
// and evctl-dlq-last-status.
//
// Handle only filters and renders (no I/O) and hands the body to its partition's lanes
// (lanes.go): each lane delivers one record at a time in offset order, records go to lanes by
// key hash (order per key), and the worker commits a partition's offsets only up to its first
// record not yet delivered or dead-lettered (worker.Durabler): at least once. Because delivery
// runs beside the poll loop, a record in backoff never holds a flush, a rebalance or a stop: a
// revoked partition abandons its waiting records, uncommitted, to their next owner.
//
// The consumer definition is hot-swappable (Handler.Update, driven by Run's poll of the
// published definitions): template, where, deliver and retry change without a restart.
package route
