package counterstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
)

// ErrInUse is returned by Open when an embedded store is held by another process.
var ErrInUse = errors.New("counterstore: the store is in use by another process")

// Increment adds Delta to one counter's value for one key.
type Increment struct {
	Counter string
	Key     string
	Delta   int64
}

// Change is the effect of one Increment: the value before and after, and the highest value the
// key ever held before it (Peak; Old unless the value fell before). Milestones are crossings of
// the peak, so a value that falls and rises again (a sum of a signed field) does not reach a
// milestone twice (SPEC-dataplane 12: once per counter, key and milestone).
type Change struct {
	Counter string
	Key     string
	Old     int64
	New     int64
	Peak    int64
}

// NoPeak in Fence.Peaks: the key's peak before the write was its old value.
const NoPeak = math.MinInt64

// Batch is one closed window of one source partition: every key's increment, the last source
// offset the window covers, and an outbox (opaque bytes the caller keeps with the fence to finish
// what follows the write after a crash).
type Batch struct {
	// Scope names the fence: one per source partition of one worker group, e.g.
	// "evctl.prod.count/prod.feed.post_liked.v1/3".
	Scope string
	// Prev is the fence the writer last read or wrote for the scope (-1: none). The batch is
	// applied only when the stored fence still equals it, so a replay after a crash and a
	// writer that lost the partition to another (a zombie) both change nothing.
	Prev int64
	// Offset is the last source offset the window covers (>= Prev); the store records it as
	// the new fence.
	Offset     int64
	Increments []Increment
	Outbox     []byte
}

// Result is what Apply did.
type Result struct {
	// Applied is false when the scope's fence was not Batch.Prev: the window was written
	// before (a replay) or another writer moved the fence; nothing changed, and the caller
	// reads the fence again.
	Applied bool
	// Changes are parallel to Batch.Increments when Applied.
	Changes []Change
}

// Fence is the stored fence of a scope.
type Fence struct {
	// Offset is the last source offset applied; -1 when the scope has never been written.
	Offset int64
	Outbox []byte
	// Values are the new values of the increments of the batch that set the fence, in its
	// order: with the outbox they let a caller redo what follows a write (changelog,
	// milestones) after a crash, exactly as the write's Result said.
	Values []int64
	// Peaks are parallel to Values: the increment's Change.Peak when it was above its Old
	// value, else NoPeak (the old value, Values[i] minus the delta the caller knows).
	Peaks []int64
}

// Store keeps counter values and offset fences. Implementations are safe for concurrent use.
type Store interface {
	// Apply applies b atomically: when the scope's fence equals b.Prev, every increment, the
	// new fence (b.Offset) and the outbox are written together; otherwise nothing is. An error means
	// nothing was applied or the outcome is unknown; the caller retries the same batch, which
	// the fence makes safe.
	Apply(ctx context.Context, b Batch) (Result, error)
	// Get returns the values of keys of one counter, parallel to keys; an unseen key is 0.
	Get(ctx context.Context, counter string, keys []string) ([]int64, error)
	// Fence reads a scope's fence.
	Fence(ctx context.Context, scope string) (Fence, error)
	// Close releases the store.
	Close() error
}

// Kind of a store URL.
const (
	KindRedis    = "redis"
	KindEmbedded = "file"
)

// Redact returns a store URL fit for logs and errors: a password in it is replaced by xxxxx (the
// password belongs in the variable counters.password_env names, never in evctl.yaml).
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "xxxxx" + raw[i:]
		}
		return raw
	}
	return u.Redacted()
}

// ParseURL checks a counters.store URL and returns its kind: redis://host:port/db or
// file://path (relative paths are relative to the contracts repository).
func ParseURL(raw string) (kind string, u *url.URL, err error) {
	if raw == "" {
		return "", nil, fmt.Errorf("counterstore: counters.store is not set for this environment (redis://host:port/db or file://.evctl/counters)")
	}
	u, err = url.Parse(raw)
	if err != nil {
		return "", nil, fmt.Errorf("counterstore: counters.store %q is not a URL", Redact(raw))
	}
	switch u.Scheme {
	case "redis", "rediss":
		return KindRedis, u, nil
	case "file":
		if strings.TrimPrefix(raw, "file://") == "" {
			return "", nil, fmt.Errorf("counterstore: counters.store %q names no path", Redact(raw))
		}
		return KindEmbedded, u, nil
	}
	return "", nil, fmt.Errorf("counterstore: counters.store %q: scheme must be redis:// or file://", Redact(raw))
}
