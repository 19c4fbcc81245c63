package worker

import (
	"context"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func flatten(m map[string][]int32) []TopicPartition {
	var out []TopicPartition
	for t, ps := range m {
		for _, p := range ps {
			out = append(out, TopicPartition{t, p})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

func (w *Worker) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	parts := flatten(m)
	for _, tp := range parts {
		w.assigned[tp] = true
	}
	w.health.joined.Store(true)
	w.log.Info("partitions assigned", "partitions", len(parts), "total", len(w.assigned))
}

// adjust replaces the group's committed offsets of newly assigned partitions with the positions
// the sink recorded itself, before consumption starts: the sink is the source of truth.
func (w *Worker) adjust(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []TopicPartition
	for t, ps := range offsets {
		for p := range ps {
			parts = append(parts, TopicPartition{t, p})
		}
	}
	pos := w.sinkPositions(ctx, parts)
	for _, tp := range parts {
		if n, ok := pos[tp]; ok {
			offsets[tp.Topic][tp.Partition] = kgo.NewOffset().At(n).WithEpoch(-1)
			w.next[tp] = n
			continue
		}
		if eo := offsets[tp.Topic][tp.Partition].EpochOffset(); eo.Offset >= 0 {
			w.next[tp] = eo.Offset
			w.committed[tp] = eo.Offset
		} else {
			delete(w.next, tp) // from the start of the log: any offset is new
		}
	}
	return offsets, nil
}

// sinkPositions asks the handler for its positions, retrying until it answers or ctx ends.
func (w *Worker) sinkPositions(ctx context.Context, parts []TopicPartition) map[TopicPartition]int64 {
	for attempt := 0; ; attempt++ {
		pos, err := w.cfg.Handler.Assigned(ctx, parts)
		if err == nil {
			w.metrics.waitingFor.WithLabelValues("sink").Set(0)
			return pos
		}
		if ctx.Err() != nil {
			return nil
		}
		w.waitOn(ctx, "sink", err, attempt)
	}
}

func (w *Worker) onRevoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	parts := flatten(m)
	if len(parts) == 0 {
		return
	}
	// Make what was handled durable and commit it while the partitions are still ours. If the
	// sink does not take it (a few tries: the rebalance is waiting), drop the buffer instead:
	// the new owner re-reads from the sink's position, and this worker rewinds what it keeps.
	ok := false
	for attempt := 0; attempt < 3 && !ok; attempt++ {
		if ok = w.flushCommit(ctx); !ok {
			sleep(ctx, w.backoff(attempt))
		}
	}
	w.failing = 0
	w.forget(parts)
	w.cfg.Handler.Revoked(ctx, parts)
	if !ok {
		w.log.Warn("revoked partitions could not be flushed; their records will be re-read by the new owner", "partitions", len(parts))
		w.cfg.Handler.Reset()
		w.rewind(ctx)
	}
	w.log.Info("partitions revoked", "partitions", len(parts), "remaining", len(w.assigned))
}

func (w *Worker) onLost(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	parts := flatten(m)
	w.forget(parts)
	w.cfg.Handler.Revoked(ctx, parts)
	w.cfg.Handler.Reset()
	w.rewind(ctx)
	w.log.Warn("partitions lost (the group moved on without this worker); buffered records dropped, re-read by their owner", "partitions", len(parts))
}

func (w *Worker) forget(parts []TopicPartition) {
	for _, tp := range parts {
		delete(w.assigned, tp)
		delete(w.next, tp)
		delete(w.committed, tp)
		if _, ok := w.pending[tp]; ok {
			delete(w.pending, tp)
			w.cl.ResumeFetchPartitions(map[string][]int32{tp.Topic: {tp.Partition}})
		}
		w.metrics.paused.DeleteLabelValues(tp.Topic, strconv.Itoa(int(tp.Partition)))
		w.metrics.lag.DeleteLabelValues(tp.Topic, strconv.Itoa(int(tp.Partition)))
	}
}

// rewind seeks every partition still held to the position the sink has (or the last committed
// offset), after the handler dropped its buffer.
func (w *Worker) rewind(ctx context.Context) {
	parts := make([]TopicPartition, 0, len(w.assigned))
	for tp := range w.assigned {
		parts = append(parts, tp)
	}
	if len(parts) == 0 {
		return
	}
	pos := w.sinkPositions(ctx, parts)
	set := map[string]map[int32]kgo.EpochOffset{}
	for _, tp := range parts {
		n, ok := pos[tp]
		if !ok {
			if n, ok = w.committed[tp]; !ok {
				n = -2 // the start of the log (kgo's AtStart)
			}
		}
		if set[tp.Topic] == nil {
			set[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: n}
		if n >= 0 {
			w.next[tp] = n
		} else {
			delete(w.next, tp)
		}
		if _, ok := w.pending[tp]; ok {
			delete(w.pending, tp)
			w.cl.ResumeFetchPartitions(map[string][]int32{tp.Topic: {tp.Partition}})
		}
	}
	w.cl.SetOffsets(set)
}

func kerrOf(code int16) error { return kerr.ErrorForCode(code) }
