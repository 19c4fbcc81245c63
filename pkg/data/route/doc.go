// Package route is `evctl route` (SPEC-dataplane 11): one worker.Handler per consumer (group
// evctl.<env>.consumer.<name>) that filters each event with the consumer's where, renders it
// through its template (pkg/contracts/transform) and delivers the body over HTTP in partition
// order, retrying 429, 5xx and timeouts with exponential backoff and jitter (honouring
// Retry-After) up to max_attempts, and sending what cannot be delivered to the consumer's DLQ
// <env>.consumers.<name>.dlq with the original bytes and evctl-dlq-reason, evctl-dlq-attempts
// and evctl-dlq-last-status.
//
// Handle only filters and renders (no I/O). Flush delivers: every partition's records one at a
// time in offset order (partitions in parallel), so a partition's offsets are committed only
// after each of its records was delivered or dead-lettered: at least once, in order per key.
package route
