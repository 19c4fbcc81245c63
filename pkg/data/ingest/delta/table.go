package delta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// Defaults of TableConfig.
const (
	DefaultFlush              = 30 * time.Second
	DefaultMaxRows            = 500000
	DefaultCheckpointInterval = 10
	// rowGroupRows bounds a row group, and so the memory of an open file's pages.
	rowGroupRows = 128 * 1024
	// refreshEvery bounds how often a waiting record re-reads the table's schema.
	refreshEvery = 2 * time.Second
)

// TableConfig is one event's Delta table and how it is ingested.
type TableConfig struct {
	Event       string     // "feed/video_played"
	Topic       string     // the event's topic
	Store       blob.Store // the lake
	Location    string     // the table's key prefix in Store (after any replace)
	PartitionBy []string   // sinks.delta.partition_by (informational: the table's own partition columns rule)
	// Batch: files are written as records arrive and committed once per Cadence.
	Batch   bool
	Cadence time.Duration
	// Flush: streaming commits at least this often, and at MaxRows buffered rows.
	Flush   time.Duration
	MaxRows int
	// CheckpointInterval: a checkpoint every this many versions (delta.checkpointInterval).
	CheckpointInterval int
}

// fileKey names an open file: the table schema it follows (by id, not its long text, which
// would be hashed per lookup) and its partition directory.
type fileKey struct {
	schema int
	dir    string
}

// table is the writer of one Delta table.
type table struct {
	cfg    TableConfig
	app    string      // txn appId prefix: "<group>/<topic>/"
	codec  *zstd.Codec // the handler's, shared by its tables' layouts
	log    *slog.Logger
	now    func() time.Time
	loaded bool

	version      int64
	schema       typemap.StructType
	schemaString string
	partitionBy  []string        // the table's partition columns (its metaData, not the contract)
	txns         map[int32]int64 // Kafka partition → last offset in the table
	layouts      map[string]*layout
	shredders    map[*layout]*shredder
	open         map[fileKey]*fileWriter
	schemaIDs    map[string]int // table schema strings seen → a small id, for fileKey
	lastFile     *fileWriter    // the file of the previous record
	lastKey      fileKey        // its key in open
	closing      []*fileWriter  // files being closed and written in the background (stage.go)
	pending      *cutGen        // a cut generation not committed yet (pipeline.go)
	spare        []*bytes.Buffer
	staged       []deltalog.AddFile
	first, last  map[int32]int64 // offsets buffered since the last commit
	rows         int             // handled since the last commit
	openRows     int             // in files not yet written out
	lastCommit   time.Time
	lastRefresh  time.Time
	conflict     string // set when another writer committed offsets this table holds
	parts        []string
	statsWritten int64
}

func newTable(cfg TableConfig, group string, codec *zstd.Codec, log *slog.Logger, now func() time.Time) *table {
	if cfg.Flush <= 0 {
		cfg.Flush = DefaultFlush
	}
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.Batch && cfg.Cadence <= 0 {
		cfg.Cadence = time.Hour
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	return &table{cfg: cfg, app: group + "/" + cfg.Topic + "/", codec: codec, log: log.With("table", cfg.Location, "event", cfg.Event), now: now,
		txns: map[int32]int64{}, layouts: map[string]*layout{}, shredders: map[*layout]*shredder{}, open: map[fileKey]*fileWriter{}, schemaIDs: map[string]int{},
		first: map[int32]int64{}, last: map[int32]int64{}, lastCommit: now()}
}

func (t *table) appID(p int32) string { return t.app + strconv.Itoa(int(p)) }

// refresh reads the table's log: version, schema and txn versions.
func (t *table) refresh(ctx context.Context) error {
	snap, err := deltalog.Read(ctx, t.cfg.Store, t.cfg.Location)
	if err != nil {
		return fmt.Errorf("delta: %w", err)
	}
	if err := writable(snap); err != nil {
		return err
	}
	t.lastRefresh = t.now()
	t.version = snap.Version
	if !slices.Equal(snap.Metadata.PartitionColumns, t.partitionBy) {
		t.partitionBy = slices.Clone(snap.Metadata.PartitionColumns)
		clear(t.layouts)
	}
	if snap.Metadata.SchemaString != t.schemaString {
		t.schema, t.schemaString = snap.Schema, snap.Metadata.SchemaString
		clear(t.layouts) // open files keep the layout they were opened with
	}
	for p := range t.first {
		t.checkConflict(snap, p)
	}
	if t.pending != nil {
		for p := range t.pending.first {
			t.checkConflict(snap, p)
		}
	}
	for app, v := range snap.Txns {
		if p, ok := strings.CutPrefix(app, t.app); ok {
			if n, err := strconv.Atoi(p); err == nil {
				t.txns[int32(n)] = max(t.txns[int32(n)], v)
			}
		}
	}
	t.loaded = true
	return nil
}

// checkConflict marks the table conflicted when snap holds offsets of partition p that this
// table holds uncommitted (another writer took the partition).
func (t *table) checkConflict(snap *deltalog.Snapshot, p int32) {
	first, _ := t.firstOf(p)
	if v, ok := snap.Txns[t.appID(p)]; ok && v >= first {
		t.conflict = fmt.Sprintf("partition %d: another writer committed offset %d, buffered from %d", p, v, first)
	}
}

// writable refuses tables whose protocol or schema asks writers for what evctl does not do.
func writable(snap *deltalog.Snapshot) error {
	if err := deltalog.CheckWrite(snap.Protocol); err != nil {
		return fmt.Errorf("delta: %w", err)
	}
	for k := range snap.Metadata.Configuration {
		if strings.HasPrefix(k, "delta.constraints.") {
			return fmt.Errorf("delta: %w: the table has CHECK constraints, which evctl does not enforce", deltalog.ErrUnsupported)
		}
	}
	if snap.ColumnMapping != deltalog.ColumnMappingNone {
		return fmt.Errorf("delta: %w: column mapping mode %s", deltalog.ErrUnsupported, snap.ColumnMapping)
	}
	s := snap.Metadata.SchemaString
	if strings.Contains(s, "delta.generationExpression") || strings.Contains(s, "delta.invariants") || strings.Contains(s, "delta.identity") {
		return fmt.Errorf("delta: %w: generated, identity or invariant columns", deltalog.ErrUnsupported)
	}
	return nil
}

// positions returns the next offset to read for each Kafka partition the table has a txn for.
func (t *table) positions(ctx context.Context, parts []int32) (map[int32]int64, error) {
	if err := t.refresh(ctx); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, p := range parts {
		if v, ok := t.txns[p]; ok {
			out[p] = v + 1
		}
	}
	return out, nil
}

// handle buffers one record.
func (t *table) handle(ctx context.Context, rec *worker.Record) error {
	p := rec.Partition
	if v, ok := t.txns[p]; ok && rec.Offset <= v {
		return nil // in the table already
	}
	if !t.loaded {
		if err := t.refresh(ctx); err != nil {
			return err
		}
	}
	l, err := t.layout(ctx, rec.Schema)
	if err != nil {
		return err
	}
	s := t.shredders[l]
	parts, err := s.start(rec.Value, t.parts)
	t.parts = parts
	if err != nil {
		return err
	}
	fw, key := t.writer(l, parts)
	if err := fw.add(s); err != nil {
		if fw.nrows == 0 { // a file opened for this bad record alone: nothing to write
			_ = fw.finish()
			delete(t.open, key)
			t.lastFile = nil
		}
		return err
	}
	if _, ok := t.first[p]; !ok {
		t.first[p] = rec.Offset
	}
	t.last[p] = rec.Offset
	t.rows++
	t.openRows++
	return nil
}

// layout binds the record's schema to the table's; a field the table lacks re-reads the log
// (at most every refreshEvery) before the record waits.
func (t *table) layout(ctx context.Context, sc *worker.Schema) (*layout, error) {
	if l, ok := t.layouts[sc.SHA256]; ok {
		return l, nil
	}
	l, err := newLayout(t.schema, t.schemaString, t.partitionBy, sc.Message, t.codec)
	var wait *worker.WaitError
	if errors.As(err, &wait) && t.now().Sub(t.lastRefresh) >= refreshEvery {
		if rerr := t.refresh(ctx); rerr != nil {
			return nil, rerr
		}
		l, err = newLayout(t.schema, t.schemaString, t.partitionBy, sc.Message, t.codec)
	}
	if err != nil {
		if errors.As(err, &wait) {
			wait.Reason = fmt.Sprintf("table %s: %s (schema %.12s); run evctl apply", t.cfg.Location, wait.Reason, sc.SHA256)
		}
		return nil, err
	}
	id, ok := t.schemaIDs[l.tableSchema]
	if !ok {
		id = len(t.schemaIDs)
		t.schemaIDs[l.tableSchema] = id
	}
	l.schemaID = id
	t.layouts[sc.SHA256] = l
	t.shredders[l] = l.newShredder()
	return l, nil
}

// writer returns the open file of the record's table schema and partition, and its key in
// t.open.
func (t *table) writer(l *layout, parts []string) (*fileWriter, fileKey) {
	// The common case: the same file as the previous record (no key built per record).
	if fw := t.lastFile; fw != nil && fw.l.schemaID == l.schemaID && slices.Equal(fw.parts, parts) {
		return fw, t.lastKey
	}
	var dir strings.Builder
	for i, pc := range l.partitions {
		if i > 0 {
			dir.WriteByte('/')
		}
		v := parts[i]
		if v == "" {
			v = "__HIVE_DEFAULT_PARTITION__"
		}
		dir.WriteString(pc.name + "=" + url.PathEscape(v))
	}
	// Files are per table schema and partition: records of several schema versions that the
	// table holds alike share a file.
	key := fileKey{schema: l.schemaID, dir: dir.String()}
	fw, ok := t.open[key]
	if !ok {
		fw = newFileWriter(l, parts, dir.String(), "part-00000-"+uuid.NewString()+"-c000.zstd.parquet", t.buffer())
		t.open[key] = fw
	}
	t.lastFile, t.lastKey = fw, key
	return fw, key
}

// buffer returns an empty file buffer, reusing one whose file was written out: files are tens
// of MB, and growing a fresh buffer each time copies and clears as much again.
func (t *table) buffer() *bytes.Buffer {
	if n := len(t.spare); n > 0 {
		b := t.spare[n-1]
		t.spare = t.spare[:n-1]
		return b
	}
	return new(bytes.Buffer)
}

// recycle keeps a written file's buffer for the next file (a couple at most).
func (t *table) recycle(b *bytes.Buffer) {
	if len(t.spare) < 2 {
		b.Reset()
		t.spare = append(t.spare, b)
	}
}
