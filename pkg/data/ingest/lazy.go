package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/evctl/evctl/pkg/data/worker"
)

// Modes of a sink's worker, for sinks that run one per mode (BigQuery).
const (
	ModeStreaming = "streaming"
	ModeBatch     = "batch"
)

// lazyHandler builds its handler at the first assignment. BigQuery tables take their schema
// from the descriptor store, which holds an event only once apply published it, and evctl dev
// starts ingestion before the first apply. Until the topics exist the worker is assigned no
// partition, so no other callback runs before Assigned; a build that fails (the store not
// there yet) fails Assigned, which the worker retries with backoff, saying what it waits for.
type lazyHandler struct {
	build func(ctx context.Context) (worker.Handler, error)
	mu    sync.Mutex // guards h against Close, which runs after the worker stopped
	h     worker.Handler
}

var _ worker.Handler = (*lazyHandler)(nil)

func (l *lazyHandler) inner() worker.Handler {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h
}

func (l *lazyHandler) Assigned(ctx context.Context, parts []worker.TopicPartition) (map[worker.TopicPartition]int64, error) {
	h := l.inner()
	if h == nil {
		var err error
		if h, err = l.build(ctx); err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.h = h
		l.mu.Unlock()
	}
	return h.Assigned(ctx, parts)
}

func (l *lazyHandler) Handle(ctx context.Context, rec *worker.Record) error {
	h := l.inner()
	if h == nil {
		return fmt.Errorf("ingest: %s: record before its partition was assigned", rec.TP())
	}
	return h.Handle(ctx, rec)
}

func (l *lazyHandler) FlushDue(now time.Time) bool {
	h := l.inner()
	return h != nil && h.FlushDue(now)
}

func (l *lazyHandler) Flush(ctx context.Context, final bool) (bool, error) {
	h := l.inner()
	if h == nil {
		return true, nil
	}
	return h.Flush(ctx, final)
}

func (l *lazyHandler) Revoked(ctx context.Context, parts []worker.TopicPartition) {
	if h := l.inner(); h != nil {
		h.Revoked(ctx, parts)
	}
}

func (l *lazyHandler) Reset() {
	if h := l.inner(); h != nil {
		h.Reset()
	}
}

// Close closes the built handler when it holds connections of its own.
func (l *lazyHandler) Close() error {
	if c, ok := l.inner().(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
