package delta

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/parquet-go/parquet-go"
)

// Encoding (parquet-go's column buffers, page encoding, zstd) costs more than shredding, so
// each open file encodes on its own goroutine while the worker's goroutine shreds the next
// records into column batches. Rows travel in batches (a channel send per record would cost
// more than it saves); a small pool of batches bounds what is in flight.
//
// The columns of one batch are independent in Parquet (each has its own buffer, pages and
// codec state), so the encoder spreads them over up to encodeWorkers goroutines: with one
// partition open (the usual event_date of today) that is the only way encoding, which is
// mostly zstd, uses more than one core.
const (
	batchRows     = 1024 // rows per batch handed to the encoder
	batchesInPool = 3    // batches per file: one filling, at most two queued or encoding
)

// encodeWorkers is how many goroutines encode the columns of one batch.
func encodeWorkers() int { return min(runtime.GOMAXPROCS(0), 4) }

// batch is rows of one file, column by column: cols[c] holds whole rows of leaf column c (one
// value per row, or several for lists and maps). Byte-array values point into the records'
// value bytes (kgo never reuses them: the worker configures no pools), so a batch keeps its
// records alive until it is encoded; the pool bounds that.
type batch struct {
	cols [][]parquet.Value
	rows int
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
	name   string        // fixed at creation, so a retried upload writes the same object
	staged chan struct{} // closed when the background stage ended (stage.go)
	putErr error         // the background write's error, read after staged is closed

	cur     *batch
	jobs    chan *batch
	free    chan *batch
	done    chan struct{}
	err     error // the encoder's first error; read only after done is closed
	nrows   int
	made    int  // batches allocated
	ending  bool // jobs is closed
	order   []int
	workers int
}

func newFileWriter(l *layout, parts []string, dir, name string, buf *bytes.Buffer) *fileWriter {
	fw := &fileWriter{l: l, parts: append([]string(nil), parts...), dir: dir, name: name, buf: buf,
		jobs: make(chan *batch, batchesInPool), free: make(chan *batch, batchesInPool), done: make(chan struct{}),
		order: l.encodeOrder, workers: encodeWorkers()}
	fw.w = parquet.NewWriter(fw.buf, l.schema, parquet.CreatedBy("evctl", "", ""))
	go fw.encode()
	return fw
}

// encode writes batches into the Parquet writer's column writers until jobs closes, ends a
// row group every rowGroupRows rows, then closes the writer.
func (fw *fileWriter) encode() {
	defer close(fw.done)
	cws := fw.w.ColumnWriters() // the same writers for every row group
	groupRows := 0
	for b := range fw.jobs {
		if fw.err == nil {
			fw.err = fw.eachColumn(func(c int) error {
				_, err := cws[c].WriteRowValues(b.cols[c])
				return err
			})
			groupRows += b.rows
			if fw.err == nil && groupRows >= rowGroupRows {
				fw.err = fw.endRowGroup(cws)
				groupRows = 0
			}
			if fw.err != nil {
				fw.err = fmt.Errorf("encode rows: %w", fw.err)
			}
		}
		for c := range b.cols {
			clear(b.cols[c]) // drop the references to record bytes
			b.cols[c] = b.cols[c][:0]
		}
		b.rows = 0
		fw.free <- b
	}
	if fw.err == nil {
		// The last pages of every column compress in parallel; Close then only writes them out.
		err := fw.eachColumn(func(c int) error { return cws[c].Flush() })
		if err == nil {
			err = fw.w.Close()
		}
		if err != nil {
			fw.err = fmt.Errorf("close file: %w", err)
		}
	}
}

// endRowGroup compresses the last page of each column in parallel, then writes the row group.
func (fw *fileWriter) endRowGroup(cws []*parquet.ColumnWriter) error {
	if err := fw.eachColumn(func(c int) error { return cws[c].Flush() }); err != nil {
		return err
	}
	return fw.w.Flush()
}

// eachColumn runs f for every column, spread over fw.workers goroutines that take columns in
// fw.order (widest first, so the last ones to finish are small). It returns when all are done.
func (fw *fileWriter) eachColumn(f func(c int) error) error {
	n := len(fw.order)
	workers := min(fw.workers, n)
	if workers <= 1 {
		for _, c := range fw.order {
			if err := f(c); err != nil {
				return err
			}
		}
		return nil
	}
	var next atomic.Int64
	errs := make([]error, workers)
	run := func(k int) {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			if err := f(fw.order[i]); err != nil {
				errs[k] = err
				return
			}
		}
	}
	var wg sync.WaitGroup
	for k := 1; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(k)
		}()
	}
	run(0)
	wg.Wait()
	return errors.Join(errs...)
}

// add shreds the shredder's current record into the current batch. On error nothing was added.
func (fw *fileWriter) add(s *shredder) error {
	if fw.cur == nil {
		fw.cur = fw.take()
	}
	b := fw.cur
	if err := s.into(b.cols); err != nil {
		return err
	}
	b.rows++
	fw.nrows++
	if b.rows >= batchRows {
		fw.jobs <- b
		fw.cur = nil
	}
	return nil
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
		return &batch{cols: make([][]parquet.Value, fw.l.ncols)}
	}
	return <-fw.free
}

// finish hands the last batch over, waits for the encoder and reports its error. After it
// returns, buf holds the whole file.
func (fw *fileWriter) finish() error {
	if !fw.ending {
		if fw.cur != nil && fw.cur.rows > 0 {
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

// encodeOrder is the order encoders take columns in: byte arrays (the widest, and most of the
// zstd work) first, then the rest, each group in column order.
func encodeOrder(schema *parquet.Schema, ncols int) []int {
	order := make([]int, ncols)
	wide := make([]bool, ncols)
	for _, path := range schema.Columns() {
		if col, ok := schema.Lookup(path...); ok && col.ColumnIndex < ncols && col.Node.Type().Kind() == parquet.ByteArray {
			wide[col.ColumnIndex] = true
		}
	}
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case wide[a] == wide[b]:
			return 0
		case wide[a]:
			return -1
		}
		return 1
	})
	return order
}
