package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

// Buffer holds encoded rows per (table, topic, partition) between flushes: the part of an ingest
// handler that knows ClickHouse, so the worker's callbacks map onto it one to one (see the
// package documentation). It flushes when MaxRows rows are buffered or the oldest row has
// waited Flush (the contract's ingestion flush and max_rows). Safe for concurrent use.
type Buffer struct {
	w        *Writer
	features typemap.CHFeatures
	flush    time.Duration
	maxRows  int

	mu       sync.Mutex
	encoders map[protoreflect.FullName]map[protoreflect.MessageDescriptor]*Encoder
	parts    map[key]*pending
	rows     int
	oldest   time.Time
}

// pending is one partition's buffered rows as consecutive runs of one column set: records of
// two schema versions become successive batches, never interleaved, because a batch's record
// moves the partition's watermark past every offset in it.
type pending struct {
	batches []*Batch
	sigs    []string
}

// NewBuffer buffers for w; features are the server's (Conn.Features), flush and maxRows the
// contract's ingestion settings (defaults 30s and 500,000).
func NewBuffer(w *Writer, features typemap.CHFeatures, flush time.Duration, maxRows int) *Buffer {
	if flush <= 0 {
		flush = 30 * time.Second
	}
	if maxRows <= 0 {
		maxRows = 500_000
	}
	return &Buffer{w: w, features: features, flush: flush, maxRows: maxRows,
		encoders: map[protoreflect.FullName]map[protoreflect.MessageDescriptor]*Encoder{}, parts: map[key]*pending{}}
}

// Add encodes m (read at offset of topic/partition) for table. A *typemap.ValueError is a
// record the table cannot hold: the caller sends it to the dead-letter topic.
func (b *Buffer) Add(table, topic string, partition int32, m protoreflect.Message, offset int64, now time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	md := m.Descriptor()
	enc := b.encoders[md.FullName()][md]
	if enc == nil {
		var err error
		if enc, err = NewEncoder(md, b.features); err != nil {
			return err
		}
		if b.encoders[md.FullName()] == nil {
			b.encoders[md.FullName()] = map[protoreflect.MessageDescriptor]*Encoder{}
		}
		b.encoders[md.FullName()][md] = enc
	}
	row, err := enc.Row(m, offset)
	if err != nil {
		return err
	}
	k := key{table, topic, partition}
	p := b.parts[k]
	if p == nil {
		p = &pending{}
		b.parts[k] = p
	}
	cols := enc.Columns()
	sig := strings.Join(cols, "\x00")
	if n := len(p.batches); n == 0 || p.sigs[n-1] != sig {
		p.batches = append(p.batches, &Batch{Table: table, Columns: cols, Topic: topic, Partition: partition})
		p.sigs = append(p.sigs, sig)
	}
	batch := p.batches[len(p.batches)-1]
	batch.Rows = append(batch.Rows, row)
	if b.rows == 0 {
		b.oldest = now
	}
	b.rows++
	return nil
}

// Due reports whether Flush should run: MaxRows buffered, or the oldest row older than Flush.
func (b *Buffer) Due(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rows >= b.maxRows || (b.rows > 0 && now.Sub(b.oldest) >= b.flush)
}

// Rows is how many rows are buffered.
func (b *Buffer) Rows() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rows
}

// PartitionError is a partition whose rows could not be written; they stay buffered.
type PartitionError struct {
	Table, Topic string
	Partition    int32
	Err          error // a *SchemaError: the partition waits for apply
}

func (e *PartitionError) Error() string {
	return fmt.Sprintf("clickhouse: %s %s/%d: %v", e.Table, e.Topic, e.Partition, e.Err)
}
func (e *PartitionError) Unwrap() error { return e.Err }

// Flush writes every buffered partition (each batch in offset order, exactly once in effect)
// and drops what was written. Partitions that failed keep their rows and come back as
// *PartitionError values joined into the error (errors.As finds each); the others are durable.
func (b *Buffer) Flush(ctx context.Context) error {
	b.mu.Lock()
	keys := make([]key, 0, len(b.parts))
	for k := range b.parts {
		keys = append(keys, k)
	}
	b.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].table != keys[j].table {
			return keys[i].table < keys[j].table
		}
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].partition < keys[j].partition
	})
	var errs []error
	for _, k := range keys {
		b.mu.Lock()
		p := b.parts[k]
		b.mu.Unlock()
		if p == nil {
			continue
		}
		for len(p.batches) > 0 {
			batch := p.batches[0]
			if _, err := b.w.Write(ctx, *batch); err != nil {
				errs = append(errs, &PartitionError{Table: k.table, Topic: k.topic, Partition: k.partition, Err: err})
				break
			}
			b.mu.Lock()
			b.rows -= len(batch.Rows)
			p.batches, p.sigs = p.batches[1:], p.sigs[1:]
			b.mu.Unlock()
		}
		b.mu.Lock()
		if len(p.batches) == 0 {
			delete(b.parts, k)
		}
		b.mu.Unlock()
	}
	b.mu.Lock()
	if b.rows > 0 {
		b.oldest = time.Now()
	}
	b.mu.Unlock()
	return errors.Join(errs...)
}

// Drop forgets the buffered rows of the given partitions of topic (revoked, or reset), and
// what the writer knew of them, so they are re-read from the table when assigned again.
func (b *Buffer) Drop(topic string, partitions ...int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, p := range b.parts {
		if k.topic != topic {
			continue
		}
		for _, part := range partitions {
			if k.partition == part {
				for _, batch := range p.batches {
					b.rows -= len(batch.Rows)
				}
				delete(b.parts, k)
			}
		}
	}
	b.w.mu.Lock()
	for k := range b.w.marks {
		for _, part := range partitions {
			if k.topic == topic && k.partition == part {
				delete(b.w.marks, k)
			}
		}
	}
	b.w.mu.Unlock()
}
