package delta

import (
	"bytes"
	"fmt"

	"github.com/parquet-go/parquet-go"
)

// Encoding (parquet-go's WriteRows: levels, pages, zstd) costs more than shredding, so each open
// file encodes on its own goroutine while the worker's goroutine shreds the next records: the
// two overlap on two cores. Rows travel in batches (a channel send per record would cost more
// than it saves); a small pool of batches bounds what is in flight.
const (
	batchRows     = 1024 // rows per batch handed to the encoder
	batchesInPool = 3    // batches per file: one filling, at most two queued or encoding
)

// batch is rows of one file, their values in one slab. Byte-array values point into the
// records' value bytes (kgo never reuses them: the worker configures no pools), so a batch
// keeps its records alive until it is encoded; the pool bounds that.
type batch struct {
	vals []parquet.Value
	ends []int // ends[i] is the end of row i in vals
	rows []parquet.Row
}

// fileWriter is one data file being written; its encoder goroutine owns w and buf until
// finish returns.
type fileWriter struct {
	l      *layout
	parts  []string
	dir    string // partition directory, "" when unpartitioned
	buf    *bytes.Buffer
	w      *parquet.Writer
	stats  fileStats
	name   string // fixed at creation, so a retried upload writes the same object
	closed bool

	cur    *batch
	jobs   chan *batch
	free   chan *batch
	done   chan struct{}
	err    error // the encoder's first error; read only after done is closed
	nrows  int
	made   int  // batches allocated
	ending bool // jobs is closed
}

func newFileWriter(l *layout, parts []string, dir, name string, buf *bytes.Buffer) *fileWriter {
	fw := &fileWriter{l: l, parts: append([]string(nil), parts...), dir: dir, name: name, buf: buf,
		jobs: make(chan *batch, batchesInPool), free: make(chan *batch, batchesInPool), done: make(chan struct{})}
	fw.w = parquet.NewWriter(fw.buf, l.schema, parquet.MaxRowsPerRowGroup(rowGroupRows), parquet.CreatedBy("evctl", "", ""))
	go fw.encode()
	return fw
}

// encode writes batches into the Parquet writer until jobs closes, then closes the writer.
func (fw *fileWriter) encode() {
	defer close(fw.done)
	for b := range fw.jobs {
		if fw.err == nil {
			start := 0
			for _, end := range b.ends {
				b.rows = append(b.rows, b.vals[start:end])
				start = end
			}
			if _, err := fw.w.WriteRows(b.rows); err != nil {
				fw.err = fmt.Errorf("encode rows: %w", err)
			}
		}
		clear(b.vals) // drop the references to record bytes
		clear(b.rows)
		b.vals, b.ends, b.rows = b.vals[:0], b.ends[:0], b.rows[:0]
		fw.free <- b
	}
	if fw.err == nil {
		if err := fw.w.Close(); err != nil {
			fw.err = fmt.Errorf("close file: %w", err)
		}
	}
}

// write copies one shredded row into the current batch.
func (fw *fileWriter) write(row parquet.Row) {
	if fw.cur == nil {
		fw.cur = fw.take()
	}
	b := fw.cur
	b.vals = append(b.vals, row...)
	b.ends = append(b.ends, len(b.vals))
	fw.nrows++
	if len(b.ends) >= batchRows {
		fw.jobs <- b
		fw.cur = nil
	}
}

// take returns an empty batch: a new one while the file has fewer than batchesInPool (they
// grow with use, so a file of a few rows, one of many partitions open at once, stays small),
// else the next one the encoder gives back.
func (fw *fileWriter) take() *batch {
	select {
	case b := <-fw.free:
		return b
	default:
	}
	if fw.made < batchesInPool {
		fw.made++
		return &batch{}
	}
	return <-fw.free
}

// finish hands the last batch over, waits for the encoder and reports its error. After it
// returns, buf holds the whole file.
func (fw *fileWriter) finish() error {
	if !fw.ending {
		if fw.cur != nil && len(fw.cur.ends) > 0 {
			fw.jobs <- fw.cur
		}
		fw.cur = nil
		close(fw.jobs)
		fw.ending = true
	}
	<-fw.done
	if fw.err == nil && fw.stats.cols == nil {
		fw.stats.fromFile(fw.l, fw.w.File().Metadata(), int64(fw.nrows))
	}
	return fw.err
}
