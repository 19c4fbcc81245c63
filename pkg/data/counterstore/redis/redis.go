package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/evctl/evctl/pkg/data/counterstore"
)

//go:embed apply.lua
var applySource string

// Store is a counterstore.Store on Redis.
type Store struct {
	rdb    *goredis.Client
	prefix string
	apply  *goredis.Script
	// queue feeds the reader loops (reads.go); stop ends them, loops waits for them.
	queue chan *readReq
	stop  chan struct{}
	loops sync.WaitGroup
	once  sync.Once
}

var _ counterstore.Store = (*Store)(nil)

// Open connects to a redis://host:port/db URL. prefix namespaces every key ("evctl:prod:"), so
// environments may share a database. password, when not empty, is the server's (from the
// variable counters.password_env names). It pings the server, so a wrong address fails here.
// Errors never contain the password.
func Open(ctx context.Context, url, prefix, password string) (*Store, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: counters.store %q is not a redis://host:port/db URL", counterstore.Redact(url))
	}
	if password != "" {
		opts.Password = password
	}
	rdb := goredis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis: connect %s: %w", opts.Addr, err)
	}
	return New(rdb, prefix), nil
}

// New wraps a client; Close closes it.
func New(rdb *goredis.Client, prefix string) *Store {
	s := &Store{rdb: rdb, prefix: prefix, apply: goredis.NewScript(applySource),
		queue: make(chan *readReq, maxCoalesce), stop: make(chan struct{})}
	for range readLoops {
		s.loops.Add(1)
		go s.reads()
	}
	return s
}

func (s *Store) counterKey(counter string) string { return s.prefix + "c:" + counter }
func (s *Store) peakKey(counter string) string    { return s.prefix + "p:" + counter }
func (s *Store) fenceKey() string                 { return s.prefix + "fence" }
func (s *Store) outboxKey() string                { return s.prefix + "outbox" }
func (s *Store) valuesKey() string                { return s.prefix + "values" }

// Apply runs the apply script (EVALSHA, loading it on NOSCRIPT).
func (s *Store) Apply(ctx context.Context, b counterstore.Batch) (counterstore.Result, error) {
	keys := []string{s.fenceKey(), s.outboxKey(), s.valuesKey()}
	slot := map[string]int{}
	args := make([]any, 0, 4+3*len(b.Increments))
	args = append(args, b.Scope, b.Offset, b.Outbox, b.Prev)
	for _, inc := range b.Increments {
		i, ok := slot[inc.Counter]
		if !ok {
			keys = append(keys, s.counterKey(inc.Counter), s.peakKey(inc.Counter))
			i = len(keys) - 1 // 1-based index of the counter's hash; its peaks follow
			slot[inc.Counter] = i
		}
		args = append(args, i, inc.Key, inc.Delta)
	}
	res, err := s.apply.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return counterstore.Result{}, fmt.Errorf("redis: apply %s@%d: %w", b.Scope, b.Offset, err)
	}
	if len(res) == 0 || res[0] != int64(1) {
		return counterstore.Result{Applied: false}, nil
	}
	if len(res) != 1+len(b.Increments) {
		return counterstore.Result{}, fmt.Errorf("redis: apply %s@%d: script returned %d values for %d increments", b.Scope, b.Offset, len(res)-1, len(b.Increments))
	}
	out := counterstore.Result{Applied: true, Changes: make([]counterstore.Change, len(b.Increments))}
	for i, inc := range b.Increments {
		// New values come back as strings: Lua numbers are doubles and would round above 2^53.
		str, _ := res[i+1].(string)
		v, peak, err := parseNewPeak(str, inc.Delta)
		if err != nil {
			return counterstore.Result{}, fmt.Errorf("redis: apply: value of %s/%s: %w", inc.Counter, inc.Key, err)
		}
		out.Changes[i] = counterstore.Change{Counter: inc.Counter, Key: inc.Key, Old: v - inc.Delta, New: v, Peak: peak}
	}
	return out, nil
}

// parseNewPeak reads the script's "new" or "new:peak" for an increment of delta; the peak is the
// old value when the script sent none.
func parseNewPeak(str string, delta int64) (v, peak int64, err error) {
	ns, ps, hasPeak := strings.Cut(str, ":")
	if v, err = strconv.ParseInt(ns, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%q is not a number", str)
	}
	peak = v - delta
	if hasPeak {
		if peak, err = strconv.ParseInt(ps, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%q is not a number", str)
		}
	}
	return v, peak, nil
}

// getChunk bounds one HMGET so a huge read does not block the server for long.
const getChunk = 4096

// Get reads values with HMGET; a read of a few keys is coalesced with the reads waiting beside
// it into one pipeline (reads.go).
func (s *Store) Get(ctx context.Context, counter string, keys []string) ([]int64, error) {
	if len(keys) == 0 {
		return []int64{}, nil
	}
	if len(keys) <= coalesceMaxKeys {
		return s.coalescedGet(ctx, counter, keys)
	}
	out := make([]int64, 0, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), getChunk)
		vals, err := s.rdb.HMGet(ctx, s.counterKey(counter), keys[:n]...).Result()
		if err != nil {
			return nil, fmt.Errorf("redis: get %s: %w", counter, err)
		}
		for i, v := range vals {
			if v == nil {
				out = append(out, 0)
				continue
			}
			n, err := strconv.ParseInt(v.(string), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("redis: get %s/%s: %q is not a number", counter, keys[i], v)
			}
			out = append(out, n)
		}
		keys = keys[n:]
	}
	return out, nil
}

// Fence reads a scope's fence and outbox in one transaction, so they belong together.
func (s *Store) Fence(ctx context.Context, scope string) (counterstore.Fence, error) {
	var off, box, vals *goredis.StringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		off = p.HGet(ctx, s.fenceKey(), scope)
		box = p.HGet(ctx, s.outboxKey(), scope)
		vals = p.HGet(ctx, s.valuesKey(), scope)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return counterstore.Fence{}, fmt.Errorf("redis: fence %s: %w", scope, err)
	}
	f := counterstore.Fence{Offset: -1}
	if v, err := off.Result(); err == nil {
		if f.Offset, err = strconv.ParseInt(v, 10, 64); err != nil {
			return counterstore.Fence{}, fmt.Errorf("redis: fence %s: %q is not an offset", scope, v)
		}
	}
	if v, err := box.Bytes(); err == nil {
		f.Outbox = v
	}
	if v, err := vals.Result(); err == nil && v != "" {
		for _, x := range strings.Split(v, ",") {
			// The values of the write that set the fence, as the script returned them.
			ns, ps, hasPeak := strings.Cut(x, ":")
			n, err := strconv.ParseInt(ns, 10, 64)
			if err != nil {
				return counterstore.Fence{}, fmt.Errorf("redis: fence %s: value %q is not a number", scope, x)
			}
			peak := int64(counterstore.NoPeak)
			if hasPeak {
				if peak, err = strconv.ParseInt(ps, 10, 64); err != nil {
					return counterstore.Fence{}, fmt.Errorf("redis: fence %s: value %q is not a number", scope, x)
				}
			}
			f.Values = append(f.Values, n)
			f.Peaks = append(f.Peaks, peak)
		}
	}
	return f, nil
}

// Close stops the reader loops and closes the client.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	s.loops.Wait()
	return s.rdb.Close()
}
