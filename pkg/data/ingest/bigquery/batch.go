package bigquery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"

	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Batch mode (ingestion.mode: batch): rows are written into Parquet files staged in GCS as
// records arrive, and once per cadence one load job per table appends every staged file (no
// streaming cost). Kafka offsets are committed after the job is DONE without error.
//
// Guarantee: exactly once into the table. Each load is recorded in a manifest beside the
// staged files before its job is inserted (manifest.go); a restart settles the manifests of
// its partitions and resumes after the offsets the loaded ones hold, so a crash between a job
// and the offset commit does not load the records again.

// DefaultCadence is a batch table's load cadence when the contract gives none.
const DefaultCadence = time.Hour

// loadTimeout bounds one load job, from its insert to DONE.
const loadTimeout = 10 * time.Minute

// batchFileRows bounds the rows of one staged file, and so the memory of the open one.
const batchFileRows = 100000

// BatchConfig configures a BatchHandler. Client, Staging and StagingURL are required.
type BatchConfig struct {
	Group  string // the consumer group (part of every load job ID)
	Tables []TableConfig
	Client *bq.Client
	// Staging is where files are staged (a gs:// blob.Store); StagingURL is its gs://bucket/prefix
	// form, the prefix of the URIs the load jobs read.
	Staging    blob.Store
	StagingURL string
	Logger     *slog.Logger
}

// BatchHandler implements worker.Handler for BigQuery batch ingestion through load jobs.
type BatchHandler struct {
	cfg    BatchConfig
	log    *slog.Logger
	tables map[string]*batchTable // by topic
	// hook, when set (tests only), is called at the points of a load where a crash matters:
	// "manifest" (written, job not inserted yet) and "done" (job DONE, offsets not committed).
	hook func(point string)
}

type batchTable struct {
	cfg      TableConfig // Flush is the cadence in batch mode
	rt       *rowType
	schema   *parquet.Schema
	buf      bytes.Buffer
	w        *parquet.Writer
	open     int                   // rows in the open file
	staged   []string              // object keys of staged files, not loaded yet
	offsets  map[int32]offsetRange // records handled since the last load, per partition
	rows     int                   // rows handled since the last load
	lastLoad time.Time
	attempt  int // bumped when a load job failed for good: the next one gets a new ID
}

var _ worker.Handler = (*BatchHandler)(nil)

// NewBatchHandler derives every table's row type and file schema. It does no I/O.
func NewBatchHandler(cfg BatchConfig) (*BatchHandler, error) {
	if cfg.Client == nil || cfg.Staging == nil || !strings.HasPrefix(cfg.StagingURL, "gs://") {
		return nil, errors.New("ingest bigquery: batch mode needs a BigQuery client and a gs:// staging location")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &BatchHandler{cfg: cfg, log: cfg.Logger, tables: map[string]*batchTable{}}
	for _, tc := range cfg.Tables {
		if _, dup := h.tables[tc.Topic]; dup {
			return nil, fmt.Errorf("ingest bigquery: topic %s configured twice", tc.Topic)
		}
		rt, err := newRowType(tc.Schema)
		if err != nil {
			return nil, fmt.Errorf("ingest bigquery: %s: %w", tc.Event, err)
		}
		ps, err := parquetSchema(tc.Schema)
		if err != nil {
			return nil, fmt.Errorf("ingest bigquery: %s: %w", tc.Event, err)
		}
		if tc.Flush <= 0 {
			tc.Flush = DefaultCadence
		}
		h.tables[tc.Topic] = &batchTable{cfg: tc, rt: rt, schema: ps, lastLoad: time.Now()}
	}
	return h, nil
}

// Handle converts the record into a row of the open file.
func (h *BatchHandler) Handle(_ context.Context, rec *worker.Record) error {
	t := h.tables[rec.Topic]
	if t == nil {
		return &worker.RecordError{Reason: "no bigquery table for topic " + rec.Topic}
	}
	// Every record handled counts, bad ones too (they went to the DLQ): the next load's
	// manifest says where the partition resumes.
	if r, ok := t.offsets[rec.Partition]; ok {
		r.Next = rec.Offset + 1
		t.offsets[rec.Partition] = r
	} else {
		if t.offsets == nil {
			t.offsets = map[int32]offsetRange{}
		}
		t.offsets[rec.Partition] = offsetRange{First: rec.Offset, Next: rec.Offset + 1}
	}
	m, err := rec.Decode()
	if err != nil {
		return err
	}
	row, err := t.rt.row(m)
	if err != nil {
		return &worker.RecordError{Reason: fmt.Sprintf("%s: %v", t.cfg.Event, err)}
	}
	if t.w == nil {
		t.buf.Reset()
		t.w = parquet.NewWriter(&t.buf, t.schema, parquet.CreatedBy("evctl", "", ""))
	}
	if err := t.w.Write(rowValue(row)); err != nil {
		return &worker.RecordError{Reason: fmt.Sprintf("%s: parquet row: %v", t.cfg.Event, err)}
	}
	t.open++
	t.rows++
	return nil
}

// FlushDue reports whether a table's open file is full or its cadence has come.
func (h *BatchHandler) FlushDue(now time.Time) bool {
	for _, t := range h.tables {
		if t.open >= batchFileRows || t.rows > 0 && now.Sub(t.lastLoad) >= t.cfg.Flush {
			return true
		}
	}
	return false
}

// Flush stages full files and, at a table's cadence (or when final), stages its open file and
// loads everything staged in one job. durable is true when no handled row is left unloaded.
func (h *BatchHandler) Flush(ctx context.Context, final bool) (bool, error) {
	durable := true
	for _, topic := range h.topicsSorted() {
		t := h.tables[topic]
		due := final || t.rows > 0 && time.Since(t.lastLoad) >= t.cfg.Flush
		if t.open >= batchFileRows || due && t.open > 0 {
			if err := h.stage(ctx, t); err != nil {
				return false, err
			}
		}
		if !due || len(t.staged) == 0 {
			durable = durable && t.rows == 0
			if t.rows == 0 {
				t.lastLoad = time.Now()
			}
			continue
		}
		if err := h.load(ctx, t); err != nil {
			return false, err
		}
	}
	return durable, nil
}

// stage closes the open file and writes it under the staging location.
func (h *BatchHandler) stage(ctx context.Context, t *batchTable) error {
	if t.w != nil {
		if err := t.w.Close(); err != nil {
			return fmt.Errorf("ingest bigquery: %s: close staged file: %w", t.cfg.Event, err)
		}
		t.w = nil
	}
	key := h.tablePrefix(t) + uuid.NewString() + ".parquet"
	if _, err := h.cfg.Staging.Put(ctx, key, t.buf.Bytes(), blob.PutOpts{}); err != nil {
		// The file stays in memory (t.buf) and is written again on the retry.
		t.w = nil
		return fmt.Errorf("ingest bigquery: %s: stage file: %w", t.cfg.Event, err)
	}
	t.staged = append(t.staged, key)
	t.open = 0
	t.buf.Reset()
	return nil
}

// load runs one load job over the table's staged files and waits for it: manifest first, then
// the job (looked up by its ID before it is inserted), then the staged files are deleted.
func (h *BatchHandler) load(ctx context.Context, t *batchTable) error {
	// Once asked for, a load job is seen through even when the worker is stopping: an insert
	// cut off mid-request leaves it unknown whether the job exists (and the emulator's
	// connection pool breaks on a cancelled load). loadTimeout bounds it instead.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
	defer cancel()
	table := t.cfg.Project + "." + t.cfg.Dataset + "." + t.cfg.Table
	jobID := loadJobID(h.cfg.Group, table, t.offsets, t.attempt)
	m := &manifest{JobID: jobID, Table: table, Topic: t.cfg.Topic, Files: t.staged, Offsets: t.offsets,
		Written: time.Now().UTC(), key: h.manifestKey(t, jobID)}
	if err := h.writeManifest(ctx, m); err != nil {
		return fmt.Errorf("ingest bigquery: %s: write load manifest: %w", t.cfg.Event, err)
	}
	h.at("manifest")
	job, err := h.lookupJob(ctx, jobID)
	if err == nil && job == nil {
		job, err = h.insertJob(ctx, t, m)
	}
	if err != nil {
		return fmt.Errorf("ingest bigquery: %s: load job %s: %w", t.cfg.Event, jobID, err)
	}
	status, err := job.Wait(ctx)
	if err != nil {
		return fmt.Errorf("ingest bigquery: %s: load job %s: %w", t.cfg.Event, jobID, err)
	}
	if status.Err() != nil {
		// That job is done for good and loaded nothing: the retry is a new job, with a new ID.
		t.attempt++
		if derr := h.dropManifest(ctx, m); derr != nil {
			h.log.Warn("bigquery: failed load's manifest not deleted (the next start drops it)", "err", derr)
		}
		return fmt.Errorf("ingest bigquery: %s: load job %s failed: %w", t.cfg.Event, jobID, status.Err())
	}
	h.at("done")
	h.log.Info("bigquery load job done", "event", t.cfg.Event, "job", jobID, "files", len(t.staged), "rows", t.rows)
	h.deleteFiles(ctx, t.staged)
	if all, err := h.manifests(ctx, t); err != nil {
		h.log.Warn("bigquery: load manifests not listed for cleanup", "err", err)
	} else {
		h.collect(ctx, all, []*manifest{m})
	}
	t.staged, t.rows, t.attempt, t.offsets, t.lastLoad = nil, 0, 0, nil, time.Now()
	return nil
}

// Revoked: nothing is kept per partition (Reset drops the buffers).
func (h *BatchHandler) Revoked(context.Context, []worker.TopicPartition) {}

// Reset drops open and staged files (they are re-read from Kafka from the positions Assigned
// gives; staged objects no manifest names are left for the bucket's lifecycle rule).
func (h *BatchHandler) Reset() {
	for _, t := range h.tables {
		t.w, t.open, t.rows, t.staged, t.attempt, t.offsets = nil, 0, 0, nil, 0, nil
		t.buf.Reset()
	}
}

func (h *BatchHandler) at(point string) {
	if h.hook != nil {
		h.hook(point)
	}
}

func (h *BatchHandler) topicsSorted() []string {
	out := make([]string, 0, len(h.tables))
	for k := range h.tables {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
