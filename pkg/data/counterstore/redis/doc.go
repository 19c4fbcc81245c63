// Package redis is the counter store on Redis 7 (go-redis v9): one hash per counter (field = key,
// value = int64), one hash of fences and one of outboxes. A window is applied by one Lua script,
// which checks the scope's fence, applies every increment and writes the new fence and outbox in
// one atomic step. It is the shared-deployment store; it must not know Kafka or windows.
package redis
