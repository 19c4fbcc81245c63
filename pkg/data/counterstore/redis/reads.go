package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// Small reads (the gateway's GET /v1/counters/{counter}/{key}: one key each, thousands a second)
// are coalesced: whatever reads are waiting when a reader loop is free go to Redis as one
// pipeline, one write and one read on one connection, instead of a round trip (and two system
// calls on each side) per read. A loop never waits for more reads to arrive, so a lone read costs
// one channel hop more than a direct HMGET; under load the batches grow by themselves, which is
// what keeps the latency flat when the machine is busy (the pipelining rueidis does automatically).

// readLoops is how many pipelines may be in flight at once.
const readLoops = 4

// maxCoalesce bounds one pipeline.
const maxCoalesce = 256

// coalesceMaxKeys: reads of more keys than this go straight to HMGET (the count worker's
// tier lookups), they amortise their round trip themselves.
const coalesceMaxKeys = 8

type readReq struct {
	counter string
	keys    []string
	done    chan readRes
}

type readRes struct {
	vals []int64
	err  error
}

// reads runs one reader loop until s.stop closes. Owned by the Store (Close waits for it).
func (s *Store) reads() {
	defer s.loops.Done()
	batch := make([]*readReq, 0, maxCoalesce)
	cmds := make([]*goredis.SliceCmd, 0, maxCoalesce)
	for {
		select {
		case <-s.stop:
			return
		case r := <-s.queue:
			batch = append(batch[:0], r)
		}
	drain:
		for len(batch) < maxCoalesce {
			select {
			case r := <-s.queue:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		cmds = cmds[:0]
		pipe := s.rdb.Pipeline()
		// The pipeline runs on a background context: a caller that gave up does not cancel the
		// other callers' reads (its answer is dropped into its buffered channel).
		ctx := context.Background()
		for _, r := range batch {
			cmds = append(cmds, pipe.HMGet(ctx, s.counterKey(r.counter), r.keys...))
		}
		_, err := pipe.Exec(ctx)
		for i, r := range batch {
			if err != nil && !errors.Is(err, goredis.Nil) {
				r.done <- readRes{err: fmt.Errorf("redis: get %s: %w", r.counter, err)}
				continue
			}
			vals, err := parseValues(r.counter, r.keys, cmds[i].Val())
			r.done <- readRes{vals: vals, err: err}
		}
		clear(batch)
	}
}

// coalescedGet hands a small read to the reader loops.
func (s *Store) coalescedGet(ctx context.Context, counter string, keys []string) ([]int64, error) {
	closed := errors.New("redis: get " + counter + ": the store is closed")
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis: get %s: %w", counter, err)
	}
	select {
	case <-s.stop:
		return nil, closed
	default:
	}
	r := &readReq{counter: counter, keys: keys, done: make(chan readRes, 1)}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		return nil, fmt.Errorf("redis: get %s: %w", counter, ctx.Err())
	case <-s.stop:
		return nil, closed
	}
	select {
	case res := <-r.done:
		return res.vals, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("redis: get %s: %w", counter, ctx.Err())
	case <-s.stop:
		// Queued behind the stop: no loop will take it.
		return nil, closed
	}
}

// parseValues turns an HMGET answer into values (a missing field is 0).
func parseValues(counter string, keys []string, vals []any) ([]int64, error) {
	out := make([]int64, len(vals))
	for i, v := range vals {
		if v == nil {
			continue
		}
		str, _ := v.(string)
		n, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: get %s/%s: %q is not a number", counter, keys[i], v)
		}
		out[i] = n
	}
	return out, nil
}
