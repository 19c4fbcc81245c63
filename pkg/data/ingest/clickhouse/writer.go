package clickhouse

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
)

// BatchesTable records every batch written: the watermark per (table, topic, partition).
const BatchesTable = "evctl_ingest_batches"

// Row is one encoded event and where it came from.
type Row struct {
	Offset int64
	Month  int32  // YYYYMM of event_time: the table's partition
	Data   []byte // RowBinary of Batch.Columns (typemap.CHRowEncoder.AppendRowBinary)
}

// Batch is records of one Kafka partition for one table, in offset order.
type Batch struct {
	Table     string   // base table name, in the writer's database
	Columns   []string // the columns each Row's Data holds, in order (Encoder.Columns)
	Topic     string
	Partition int32
	Rows      []Row
}

// Result says what one Write did.
type Result struct {
	Written int   // rows inserted now
	Skipped int   // rows already in the table (offsets at or below the watermark, or found there)
	Last    int64 // the partition's watermark after the write
}

// SchemaError is a batch the table cannot take yet: a row has a column the table lacks (the
// contract gained a field, apply has not run). The worker pauses the partition; nothing is
// written or skipped.
type SchemaError struct{ Err error }

func (e *SchemaError) Error() string {
	return "clickhouse: table lacks a column of the batch: " + e.Err.Error()
}
func (e *SchemaError) Unwrap() error { return e.Err }

// Writer writes batches into one database. It is safe for concurrent use by partitions' handlers.
type Writer struct {
	c  *chhttp.Client
	db string

	mu    sync.Mutex
	marks map[key]*mark
}

type key struct {
	table, topic string
	partition    int32
}

// mark is what the writer knows of a partition: its watermark, and whether the base table was
// checked for rows above it since the writer (re)started or a write failed.
type mark struct {
	last     int64
	verified bool
}

// New returns a writer into database db of the server c talks to, creating the bookkeeping
// table when absent.
func New(ctx context.Context, c *chhttp.Client, db string) (*Writer, error) {
	w := &Writer{c: c, db: db, marks: map[key]*mark{}}
	if err := c.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+chhttp.Ident(db), nil); err != nil {
		return nil, err
	}
	err := c.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (table String, topic String, partition Int32, first Int64, last Int64, rows UInt64, written_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY (table, topic, partition, last)",
		chhttp.Ident(db), BatchesTable), nil)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Positions returns, for each partition, the next offset to read: one past the last batch
// recorded for it, or -1 when none was (start from the group's committed offset or the
// beginning). It resets what the writer knew of them, so the next Write re-checks the table.
func (w *Writer) Positions(ctx context.Context, table, topic string, partitions []int32) (map[int32]int64, error) {
	out := make(map[int32]int64, len(partitions))
	for _, p := range partitions {
		last, err := w.watermark(ctx, table, topic, p)
		if err != nil {
			return nil, err
		}
		w.mu.Lock()
		w.marks[key{table, topic, p}] = &mark{last: last}
		w.mu.Unlock()
		if last < 0 {
			out[p] = -1
		} else {
			out[p] = last + 1
		}
	}
	return out, nil
}

func (w *Writer) watermark(ctx context.Context, table, topic string, partition int32) (int64, error) {
	rows, err := chhttp.QueryInto[struct {
		N    json.Number `json:"n"`
		Last json.Number `json:"last"`
	}](ctx, w.c, fmt.Sprintf("SELECT count() AS n, max(last) AS last FROM %s.%s WHERE table = %s AND topic = %s AND partition = %d",
		chhttp.Ident(w.db), BatchesTable, chhttp.Quote(table), chhttp.Quote(topic), partition))
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 || rows[0].N.String() == "0" {
		return -1, nil
	}
	return rows[0].Last.Int64()
}

// Write inserts the rows of b that the table does not hold yet and records the batch. On error
// nothing is recorded and the partition is re-checked on the next Write, so retrying the same
// batch (or a restart) is safe. A *SchemaError means the table lacks a column of the batch.
func (w *Writer) Write(ctx context.Context, b Batch) (Result, error) {
	if len(b.Rows) == 0 {
		return Result{}, nil
	}
	k := key{b.Table, b.Topic, b.Partition}
	w.mu.Lock()
	m := w.marks[k]
	w.mu.Unlock()
	if m == nil {
		last, err := w.watermark(ctx, b.Table, b.Topic, b.Partition)
		if err != nil {
			return Result{}, err
		}
		m = &mark{last: last}
	}
	res := Result{Last: m.last}
	rows := make([]Row, 0, len(b.Rows))
	for _, r := range b.Rows {
		if r.Offset > m.last {
			rows = append(rows, r)
		}
	}
	if !m.verified && len(rows) > 0 {
		// A writer killed after sending an INSERT leaves it running on the server: wait for it
		// to land (or fail) before reading what the table holds.
		if err := w.waitInflight(ctx, b); err != nil {
			return Result{}, err
		}
		have, err := w.offsetsAbove(ctx, b, m.last)
		if err != nil {
			return Result{}, err
		}
		rows = slices.DeleteFunc(rows, func(r Row) bool { return have[r.Offset] })
	}
	res.Skipped = len(b.Rows) - len(rows)
	fail := func(err error) (Result, error) {
		w.mu.Lock()
		w.marks[k] = &mark{last: m.last} // unverified: a month may have landed
		w.mu.Unlock()
		var ce *chhttp.Error
		if errors.As(err, &ce) && (strings.Contains(ce.Message, "No such column") || strings.Contains(ce.Message, "Unknown field")) {
			return Result{}, &SchemaError{Err: err}
		}
		return Result{}, err
	}
	for _, month := range months(rows) {
		if err := w.insert(ctx, b, rows, month); err != nil {
			return fail(err)
		}
	}
	first, last := b.Rows[0].Offset, b.Rows[len(b.Rows)-1].Offset
	if last > m.last {
		err := w.c.Exec(ctx, fmt.Sprintf("INSERT INTO %s.%s (table, topic, partition, first, last, rows) VALUES (%s, %s, %d, %d, %d, %d)",
			chhttp.Ident(w.db), BatchesTable, chhttp.Quote(b.Table), chhttp.Quote(b.Topic), b.Partition, first, last, len(rows)),
			map[string]string{"query_id": queryIDPrefix(b) + "record-" + strconv.FormatInt(time.Now().UnixNano(), 10)})
		if err != nil {
			return fail(err)
		}
		res.Last = last
	}
	res.Written = len(rows)
	w.mu.Lock()
	w.marks[k] = &mark{last: res.Last, verified: true}
	w.mu.Unlock()
	return res, nil
}

// queryIDPrefix names every INSERT of a partition's rows (query_id), so a restarted writer can
// find those a killed one left running.
func queryIDPrefix(b Batch) string {
	return fmt.Sprintf("evctl-ingest/%s/%s/%d/", b.Table, b.Topic, b.Partition)
}

func (w *Writer) waitInflight(ctx context.Context, b Batch) error {
	prefix := queryIDPrefix(b)
	for {
		rows, err := chhttp.QueryInto[struct {
			N json.Number `json:"n"`
		}](ctx, w.c, fmt.Sprintf("SELECT count() AS n FROM system.processes WHERE substring(query_id, 1, %d) = %s", len(prefix), chhttp.Quote(prefix)))
		if err != nil {
			return err
		}
		if len(rows) == 1 && rows[0].N.String() == "0" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// offsetsAbove reads which offsets above last the base table already holds for b's partition.
func (w *Writer) offsetsAbove(ctx context.Context, b Batch, last int64) (map[int64]bool, error) {
	have := map[int64]bool{}
	err := w.c.Query(ctx, fmt.Sprintf("SELECT _offset AS o FROM %s.%s WHERE _topic = %s AND _partition = %d AND _offset > %d",
		chhttp.Ident(w.db), chhttp.Ident(b.Table), chhttp.Quote(b.Topic), b.Partition, last), func(row json.RawMessage) error {
		var r struct {
			O json.Number `json:"o"`
		}
		if err := json.Unmarshal(row, &r); err != nil {
			return err
		}
		o, err := r.O.Int64()
		have[o] = true
		return err
	})
	return have, err
}

func months(rows []Row) []int32 {
	var ms []int32
	for _, r := range rows {
		if !slices.Contains(ms, r.Month) {
			ms = append(ms, r.Month)
		}
	}
	slices.Sort(ms)
	return ms
}

// insert writes the rows of one month as one INSERT of one block: one part, all or nothing.
// RowBinary rather than JSONEachRow: the server parses it several times faster, and on 18.16
// every type evctl maps to has a RowBinary form.
func (w *Writer) insert(ctx context.Context, b Batch, rows []Row, month int32) error {
	if len(b.Columns) == 0 {
		return fmt.Errorf("clickhouse: batch for %s names no columns", b.Table)
	}
	var suffix []byte
	suffix = binary.AppendUvarint(suffix, uint64(len(b.Topic)))
	suffix = append(suffix, b.Topic...)
	suffix = binary.LittleEndian.AppendUint32(suffix, uint32(b.Partition))
	size, n := 0, 0
	for _, r := range rows {
		if r.Month == month {
			size += len(r.Data) + len(suffix) + 8
		}
	}
	buf := make([]byte, 0, size)
	for _, r := range rows {
		if r.Month != month {
			continue
		}
		buf = append(buf, r.Data...)
		buf = append(buf, suffix...)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(r.Offset))
		n++
	}
	settings := map[string]string{
		"max_insert_block_size":       strconv.Itoa(n + 1),
		"min_insert_block_size_rows":  "0",
		"min_insert_block_size_bytes": "0",
		"query_id":                    queryIDPrefix(b) + strconv.FormatInt(time.Now().UnixNano(), 10),
	}
	cols := make([]string, 0, len(b.Columns)+3)
	for _, c := range b.Columns {
		cols = append(cols, chhttp.Ident(c))
	}
	cols = append(cols, ColTopic, ColPartition, ColOffset)
	q := fmt.Sprintf("INSERT INTO %s.%s (%s) FORMAT RowBinary", chhttp.Ident(w.db), chhttp.Ident(b.Table), strings.Join(cols, ", "))
	return w.c.Insert(ctx, q, settings, bytes.NewReader(buf))
}

// The bookkeeping columns every base table has (pkg/control/sink/clickhouse creates them).
const (
	ColTopic     = "_topic"
	ColPartition = "_partition"
	ColOffset    = "_offset"
)

// Encoder turns decoded events into Rows for one table.
type Encoder struct {
	enc       *typemap.CHRowEncoder
	eventTime protoreflect.FieldDescriptor
}

// NewEncoder maps md for a server with features f (the same mapping the table was created with).
func NewEncoder(md protoreflect.MessageDescriptor, f typemap.CHFeatures) (*Encoder, error) {
	enc, err := typemap.NewCHRowEncoder(md, f)
	if err != nil {
		return nil, err
	}
	et := md.Fields().ByName("event_time")
	if et == nil || et.Message() == nil || et.Message().FullName() != "google.protobuf.Timestamp" {
		return nil, fmt.Errorf("clickhouse: %s has no event_time timestamp to partition by", md.FullName())
	}
	return &Encoder{enc: enc, eventTime: et}, nil
}

// Columns are the table columns a Row holds, in order: Batch.Columns.
func (e *Encoder) Columns() []string {
	out := make([]string, 0, len(e.enc.Columns()))
	for _, c := range e.enc.Columns() {
		out = append(out, c.Name)
	}
	return out
}

// Row encodes m, read from offset. A *typemap.ValueError is a record the table cannot hold
// exactly (to the dead-letter topic).
func (e *Encoder) Row(m protoreflect.Message, offset int64) (Row, error) {
	j, err := e.enc.AppendRowBinary(nil, m)
	if err != nil {
		return Row{}, err
	}
	ts := m.Get(e.eventTime).Message()
	secs := ts.Get(ts.Descriptor().Fields().ByName("seconds")).Int()
	t := time.Unix(secs, 0).UTC()
	return Row{Offset: offset, Month: int32(t.Year()*100 + int(t.Month())), Data: j}, nil
}
