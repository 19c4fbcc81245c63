package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/data/worker"
)

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	Writer   *Writer
	Client   *chhttp.Client // reads system.columns of the tables
	Database string
	Features typemap.CHFeatures
	// Tables maps each topic to its base table.
	Tables  map[string]string
	Flush   time.Duration // the contract's ingestion.flush (default 30s)
	MaxRows int           // and max_rows (default 500,000)
}

// Handler is `evctl ingest --sink clickhouse` as a pkg/data/worker Handler: positions from the
// table (Writer.Positions), records encoded as they arrive (Buffer), a record the table cannot
// hold to the dead-letter topic, a record whose schema has a column the table lacks paused
// (WaitError) until apply adds it, and Flush writing every partition exactly once in effect.
type Handler struct {
	cfg HandlerConfig
	buf *Buffer

	mu      sync.Mutex
	columns map[string]map[string]bool // table → its columns, read when a schema needs it
}

// NewHandler returns the handler of cfg.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Writer == nil || cfg.Client == nil || len(cfg.Tables) == 0 {
		return nil, errors.New("clickhouse: handler needs a writer, a client and tables")
	}
	return &Handler{cfg: cfg, buf: NewBuffer(cfg.Writer, cfg.Features, cfg.Flush, cfg.MaxRows), columns: map[string]map[string]bool{}}, nil
}

// Assigned implements worker.Handler: one past each partition's last recorded batch.
func (h *Handler) Assigned(ctx context.Context, parts []worker.TopicPartition) (map[worker.TopicPartition]int64, error) {
	byTopic := map[string][]int32{}
	for _, p := range parts {
		byTopic[p.Topic] = append(byTopic[p.Topic], p.Partition)
	}
	out := map[worker.TopicPartition]int64{}
	for topic, ps := range byTopic {
		table, ok := h.cfg.Tables[topic]
		if !ok {
			return nil, fmt.Errorf("clickhouse: no table for topic %s", topic)
		}
		pos, err := h.cfg.Writer.Positions(ctx, table, topic, ps)
		if err != nil {
			return nil, err
		}
		for p, next := range pos {
			if next >= 0 {
				out[worker.TopicPartition{Topic: topic, Partition: p}] = next
			}
		}
	}
	return out, nil
}

// Handle implements worker.Handler.
func (h *Handler) Handle(ctx context.Context, rec *worker.Record) error {
	table, ok := h.cfg.Tables[rec.Topic]
	if !ok {
		return &worker.RecordError{Reason: "no ClickHouse table for topic " + rec.Topic}
	}
	m, err := rec.Decode()
	if err != nil {
		return err
	}
	enc, err := NewEncoder(m.Descriptor(), h.cfg.Features)
	if err != nil {
		return &worker.RecordError{Reason: err.Error()}
	}
	if missing, err := h.missing(ctx, table, enc.Columns()); err != nil {
		return err
	} else if len(missing) > 0 {
		return &worker.WaitError{Reason: fmt.Sprintf("table %s lacks column(s) %s of schema %s; run evctl apply", table, strings.Join(missing, ", "), rec.Schema.SHA256)}
	}
	err = h.buf.Add(table, rec.Topic, rec.Partition, m, rec.Offset, time.Now())
	var ve *typemap.ValueError
	if errors.As(err, &ve) {
		return &worker.RecordError{Reason: ve.Error()}
	}
	return err
}

// missing returns the columns the table lacks, reading system.columns again when any is
// missing from what it read before (apply may have added them since).
func (h *Handler) missing(ctx context.Context, table string, cols []string) ([]string, error) {
	check := func(have map[string]bool) []string {
		var out []string
		for _, c := range cols {
			if !have[c] {
				out = append(out, c)
			}
		}
		return out
	}
	h.mu.Lock()
	have := h.columns[table]
	h.mu.Unlock()
	if have != nil && len(check(have)) == 0 {
		return nil, nil
	}
	rows, err := chhttp.QueryInto[struct {
		Name string `json:"name"`
	}](ctx, h.cfg.Client, fmt.Sprintf("SELECT name FROM system.columns WHERE database = %s AND table = %s", chhttp.Quote(h.cfg.Database), chhttp.Quote(table)))
	if err != nil {
		return nil, err
	}
	have = map[string]bool{}
	for _, r := range rows {
		have[r.Name] = true
	}
	h.mu.Lock()
	h.columns[table] = have
	h.mu.Unlock()
	out := check(have)
	sort.Strings(out)
	return out, nil
}

// FlushDue implements worker.Handler.
func (h *Handler) FlushDue(now time.Time) bool { return h.buf.Due(now) }

// Flush implements worker.Handler: every buffered partition written, or the error (retried by
// the worker with backoff; rows stay buffered and nothing is written twice).
func (h *Handler) Flush(ctx context.Context, _ bool) (bool, error) {
	if err := h.buf.Flush(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Revoked implements worker.Handler.
func (h *Handler) Revoked(_ context.Context, parts []worker.TopicPartition) {
	for _, p := range parts {
		h.buf.Drop(p.Topic, p.Partition)
	}
}

// Reset implements worker.Handler.
func (h *Handler) Reset() {
	h.buf.mu.Lock()
	var drop []key
	for k := range h.buf.parts {
		drop = append(drop, k)
	}
	h.buf.mu.Unlock()
	for _, k := range drop {
		h.buf.Drop(k.topic, k.partition)
	}
}

var _ worker.Handler = (*Handler)(nil)
