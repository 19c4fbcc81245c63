package delta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Config configures a Handler.
type Config struct {
	Group  string // the consumer group, the prefix of every txn appId
	Tables []TableConfig
	Logger *slog.Logger
	Now    func() time.Time // default time.Now
	// MaxOpenFiles bounds the data files open across every table (default DefaultMaxOpenFiles):
	// past it, the next flush writes every open file out ahead of its commit. An open file
	// holds its row group's pages and encoder state (hundreds of KB even for a few rows), so a
	// worker whose input spans thousands of event types would otherwise hold one per table
	// until the flush interval.
	MaxOpenFiles int
}

// DefaultMaxOpenFiles is Config.MaxOpenFiles' default.
const DefaultMaxOpenFiles = 256

// Handler writes the records of several topics into their Delta tables. It implements
// worker.Handler; like every handler it is not safe for concurrent use.
type Handler struct {
	tables  map[string]*table // by topic
	log     *slog.Logger
	maxOpen int
}

var _ worker.Handler = (*Handler)(nil)

// NewHandler returns the handler of cfg.Tables (one per topic).
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Group == "" {
		return nil, errors.New("delta: no consumer group")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxOpenFiles <= 0 {
		cfg.MaxOpenFiles = DefaultMaxOpenFiles
	}
	h := &Handler{tables: map[string]*table{}, log: cfg.Logger, maxOpen: cfg.MaxOpenFiles}
	codec := &zstd.Codec{Level: ZstdLevel}
	for _, tc := range cfg.Tables {
		if tc.Store == nil || tc.Topic == "" {
			return nil, fmt.Errorf("delta: table of %s: no store or topic", tc.Event)
		}
		if _, dup := h.tables[tc.Topic]; dup {
			return nil, fmt.Errorf("delta: topic %s has two tables", tc.Topic)
		}
		h.tables[tc.Topic] = newTable(tc, cfg.Group, codec, cfg.Logger, cfg.Now)
	}
	return h, nil
}

// Assigned reads each table's txn versions and returns where each partition resumes.
func (h *Handler) Assigned(ctx context.Context, parts []worker.TopicPartition) (map[worker.TopicPartition]int64, error) {
	byTopic := map[string][]int32{}
	for _, tp := range parts {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	out := map[worker.TopicPartition]int64{}
	for topic, ps := range byTopic {
		t, ok := h.tables[topic]
		if !ok {
			continue
		}
		pos, err := t.positions(ctx, ps)
		if err != nil {
			return nil, err
		}
		for p, n := range pos {
			out[worker.TopicPartition{Topic: topic, Partition: p}] = n
		}
	}
	return out, nil
}

// Handle buffers a record into its table's open file.
func (h *Handler) Handle(ctx context.Context, rec *worker.Record) error {
	t, ok := h.tables[rec.Topic]
	if !ok {
		return &worker.RecordError{Reason: "no Delta table for topic " + rec.Topic}
	}
	return t.handle(ctx, rec)
}

// FlushDue reports whether any table reached its rows or time threshold, or the tables hold
// more open files than Config.MaxOpenFiles (a flush writes every open file out; those not due
// for a commit are committed later, as files written ahead of a full row group are).
func (h *Handler) FlushDue(time.Time) bool {
	open := 0
	for _, t := range h.tables {
		if t.due() {
			return true
		}
		open += len(t.open)
	}
	return open > h.maxOpen
}

// Flush stages and commits every table (batch tables only at their cadence unless final).
func (h *Handler) Flush(ctx context.Context, final bool) (bool, error) {
	durable := true
	var errs []error
	for _, topic := range h.topics() {
		d, err := h.tables[topic].flush(ctx, final)
		var rw *worker.RewindError
		if errors.As(err, &rw) {
			h.Reset()
			return false, err
		}
		if err != nil {
			errs = append(errs, err)
		}
		durable = durable && d
	}
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	return durable, nil
}

// Revoked forgets the positions of partitions that left.
func (h *Handler) Revoked(_ context.Context, parts []worker.TopicPartition) {
	for _, tp := range parts {
		if t, ok := h.tables[tp.Topic]; ok {
			delete(t.txns, tp.Partition)
		}
	}
}

// Reset drops everything buffered in every table.
func (h *Handler) Reset() {
	for _, t := range h.tables {
		t.reset()
	}
}

func (h *Handler) topics() []string {
	out := make([]string, 0, len(h.tables))
	for t := range h.tables {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
