package blob

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff waits before the attempt-th retry of a compare-and-swap that lost (ErrPrecondition):
// a random time that grows with attempt (capped at a few hundred milliseconds), so writers
// racing on one object spread out instead of colliding again. It returns ctx's error when ctx
// ends first.
func Backoff(ctx context.Context, attempt int) error {
	ceiling := time.Duration(min(1<<attempt, 64)) * 5 * time.Millisecond
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
