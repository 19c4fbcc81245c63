package bigquery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"cloud.google.com/go/bigquery/storage/managedwriter"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/data/worker"
)

// Defaults for a table's flush thresholds and each flush's deadline.
const (
	DefaultMaxRows = 5000
	DefaultFlush   = 5 * time.Second
	appendChunk    = 500 // rows per AppendRows request, well under the 10 MB request limit
	flushTimeout   = 30 * time.Second
)

// TableConfig is one event's table.
type TableConfig struct {
	Event   string // "feed/video_played"
	Topic   string
	Project string
	Dataset string
	Table   string
	Schema  []typemap.BQField // the table's schema (typemap.BigQuery of the event's message)
	MaxRows int               // flush at this many buffered rows (0: DefaultMaxRows)
	Flush   time.Duration     // flush at least this often (0: DefaultFlush)
}

// Config configures a Handler.
type Config struct {
	Tables []TableConfig
	// Writer is the Storage Write API client; the Handler does not close it.
	Writer *managedwriter.Client
	Logger *slog.Logger
}

// Handler implements worker.Handler for BigQuery streaming ingestion.
type Handler struct {
	w      *managedwriter.Client
	log    *slog.Logger
	tables map[string]*table // by topic
}

type table struct {
	cfg    TableConfig
	rt     *rowType
	stream *managedwriter.ManagedStream // nil until the first flush, and after a failed one
	rows   [][]byte
	since  time.Time // when the oldest buffered row arrived
}

var _ worker.Handler = (*Handler)(nil)

// NewHandler derives every table's row type. It does no I/O.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Writer == nil {
		return nil, errors.New("ingest bigquery: no Storage Write API client")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{w: cfg.Writer, log: cfg.Logger, tables: map[string]*table{}}
	for _, tc := range cfg.Tables {
		if _, dup := h.tables[tc.Topic]; dup {
			return nil, fmt.Errorf("ingest bigquery: topic %s configured twice", tc.Topic)
		}
		rt, err := newRowType(tc.Schema)
		if err != nil {
			return nil, fmt.Errorf("ingest bigquery: %s: %w", tc.Event, err)
		}
		if tc.MaxRows <= 0 {
			tc.MaxRows = DefaultMaxRows
		}
		if tc.Flush <= 0 {
			tc.Flush = DefaultFlush
		}
		h.tables[tc.Topic] = &table{cfg: tc, rt: rt}
	}
	return h, nil
}

// Assigned starts every partition at the group's committed offset: the _default stream keeps
// no position of its own (at least once).
func (h *Handler) Assigned(context.Context, []worker.TopicPartition) (map[worker.TopicPartition]int64, error) {
	return nil, nil
}

// Handle converts the record into a row and buffers it.
func (h *Handler) Handle(_ context.Context, rec *worker.Record) error {
	t := h.tables[rec.Topic]
	if t == nil {
		return &worker.RecordError{Reason: "no bigquery table for topic " + rec.Topic}
	}
	m, err := rec.Decode()
	if err != nil {
		return err
	}
	b, err := t.rt.encode(m)
	if err != nil {
		return &worker.RecordError{Reason: fmt.Sprintf("%s: %v", t.cfg.Event, err)}
	}
	if len(t.rows) == 0 {
		t.since = time.Now()
	}
	t.rows = append(t.rows, b)
	return nil
}

// FlushDue reports whether a table holds MaxRows rows or its oldest row is Flush old.
func (h *Handler) FlushDue(now time.Time) bool {
	for _, t := range h.tables {
		if len(t.rows) > 0 && (len(t.rows) >= t.cfg.MaxRows || now.Sub(t.since) >= t.cfg.Flush) {
			return true
		}
	}
	return false
}

// Flush appends every table's buffered rows and waits for each append's result. Rows are
// dropped from the buffer only once all of a table's appends succeeded; on error they stay and
// the worker retries (rows that did land are written again: at least once).
func (h *Handler) Flush(ctx context.Context, _ bool) (bool, error) {
	for _, t := range h.tables {
		if len(t.rows) == 0 {
			continue
		}
		if err := h.flushTable(ctx, t); err != nil {
			if t.stream != nil {
				_ = t.stream.Close()
				t.stream = nil // a fresh connection on the retry
			}
			return false, fmt.Errorf("ingest bigquery: %s: append to %s.%s.%s: %w", t.cfg.Event, t.cfg.Project, t.cfg.Dataset, t.cfg.Table, err)
		}
		h.log.Debug("bigquery rows appended", "event", t.cfg.Event, "rows", len(t.rows))
		t.rows = nil
	}
	return true, nil
}

func (h *Handler) flushTable(ctx context.Context, t *table) error {
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	if t.stream == nil {
		s, err := h.w.NewManagedStream(ctx,
			managedwriter.WithDestinationTable(managedwriter.TableParentFromParts(t.cfg.Project, t.cfg.Dataset, t.cfg.Table)),
			managedwriter.WithType(managedwriter.DefaultStream),
			managedwriter.WithSchemaDescriptor(t.rt.norm))
		if err != nil {
			return err
		}
		t.stream = s
	}
	var results []*managedwriter.AppendResult
	for i := 0; i < len(t.rows); i += appendChunk {
		r, err := t.stream.AppendRows(ctx, t.rows[i:min(i+appendChunk, len(t.rows))])
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	for _, r := range results {
		if _, err := r.GetResult(ctx); err != nil {
			return err
		}
		if resp, err := r.FullResponse(ctx); err == nil && resp.GetError() != nil {
			return fmt.Errorf("append: %s", resp.GetError().GetMessage())
		}
	}
	return nil
}

// Revoked has nothing to forget: the final flush emptied the buffers.
func (h *Handler) Revoked(context.Context, []worker.TopicPartition) {}

// Reset drops every buffered row.
func (h *Handler) Reset() {
	for _, t := range h.tables {
		t.rows = nil
	}
}

// Close closes the open streams.
func (h *Handler) Close() error {
	var errs []error
	for _, t := range h.tables {
		if t.stream != nil {
			errs = append(errs, t.stream.Close())
			t.stream = nil
		}
	}
	return errors.Join(errs...)
}
