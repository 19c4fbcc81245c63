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
// each open file encodes on goroutines of its own while the worker's goroutine shreds the next
// records into column batches. Rows travel in batches (a channel send per record would cost
// more than it saves); a small pool of batches bounds what is in flight.
//
// The columns of one batch are independent in Parquet (each has its own buffer, pages and
// codec state), so each column of each batch is a task, taken by up to encodeWorkers goroutines
// per file: with one partition open (the usual event_date of today) that is the only way
// encoding, which is mostly zstd, uses more than one core. A column's batches are written in
// order (a task waits for the column's previous batch), but nothing waits for a whole batch:
// when the columns of batch N were handed out by one goroutine could already write the columns
// of batch N+1 (a barrier per batch left a core idle at the end of every batch while the
// shredder waited for a free batch). Only row groups and the file's end wait for every column.
const (
	batchRows     = 1024 // rows per batch handed to the encoder
	batchesInPool = 8    // batches per file: one filling, the others queued or encoding
)

// encodeWorkers is how many goroutines encode the columns of one file.
func encodeWorkers() int { return min(runtime.GOMAXPROCS(0), 4) }

// batch is rows of one file, column by column: cols[c] holds whole rows of leaf column c (one
// value per row, or several for lists and maps). Byte-array values point into the records'
// value bytes (kgo never reuses them: the worker configures no pools), so a batch keeps its
// records alive until it is encoded; the pool bounds that.
type batch struct {
	cols [][]parquet.Value
	rows int
	seq  int          // the batch's number in its file (the order of each column's writes)
	left atomic.Int32 // columns not written yet; the last one returns the batch to the pool
}

// colTask is one column of one batch.
type colTask struct {
	b *batch
	c int
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

	// The column tasks (encode and columnWorker).
	tasks   chan colTask
	running sync.WaitGroup // tasks handed out and not done
	mu      sync.Mutex     // guards next
	turn    *sync.Cond     // signalled when next moves
	next    []int          // per column: the seq of the batch to write next
	colErrs []error        // per column: its first error (written by the task holding its turn)
	failed  atomic.Bool    // some column failed: the file is abandoned, tasks only release batches
}

func newFileWriter(l *layout, parts []string, dir, name string, buf *bytes.Buffer) *fileWriter {
	fw := &fileWriter{l: l, parts: append([]string(nil), parts...), dir: dir, name: name, buf: buf,
		jobs: make(chan *batch, batchesInPool), free: make(chan *batch, batchesInPool), done: make(chan struct{}),
		order: l.encodeOrder, workers: encodeWorkers()}
	// No statistics in data page headers: readers take page bounds from the column index,
	// which parquet-go writes anyway, and the column chunks keep theirs (Delta's file stats
	// come from those). Page header statistics computed every page's bounds a second time.
	fw.w = parquet.NewWriter(fw.buf, l.schema, parquet.CreatedBy("evctl", "", ""), parquet.DataPageStatistics(false))
	go fw.encode()
	return fw
}

// encode hands the columns of each batch to the column workers until jobs closes, ends a row
// group every rowGroupRows rows, then closes the writer.
func (fw *fileWriter) encode() {
	defer close(fw.done)
	cws := fw.w.ColumnWriters() // the same writers for every row group
	ncols := len(fw.order)
	fw.tasks = make(chan colTask, ncols*batchesInPool) // every column of every batch: never full
	fw.next, fw.colErrs = make([]int, fw.l.ncols), make([]error, fw.l.ncols)
	fw.turn = sync.NewCond(&fw.mu)
	var workers sync.WaitGroup
	for range min(fw.workers, ncols) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			fw.columnWorker(cws)
		}()
	}
	seq, groupRows := 0, 0
	for b := range fw.jobs {
		b.seq, seq = seq, seq+1
		groupRows += b.rows
		b.left.Store(int32(ncols))
		fw.running.Add(ncols)
		for _, c := range fw.order {
			fw.tasks <- colTask{b: b, c: c}
		}
		if groupRows >= rowGroupRows {
			fw.running.Wait()
			if !fw.failed.Load() {
				if err := fw.endRowGroup(cws); err != nil {
					fw.err = fmt.Errorf("encode rows: %w", err)
					fw.failed.Store(true)
				}
			}
			groupRows = 0
		}
	}
	close(fw.tasks)
	workers.Wait()
	if fw.failed.Load() {
		if fw.err == nil {
			fw.err = fmt.Errorf("encode rows: %w", errors.Join(fw.colErrs...))
		}
		return
	}
	// The last pages of every column compress in parallel; Close then only writes them out.
	err := fw.eachColumn(func(c int) error { return cws[c].Flush() })
	if err == nil {
		err = fw.w.Close()
	}
	if err != nil {
		fw.err = fmt.Errorf("close file: %w", err)
	}
}

// columnWorker writes column tasks, each column's batches in order, and returns a batch to the
// pool when its last column is written.
func (fw *fileWriter) columnWorker(cws []*parquet.ColumnWriter) {
	for t := range fw.tasks {
		b, c := t.b, t.c
		fw.mu.Lock()
		for fw.next[c] != b.seq {
			fw.turn.Wait() // the column's previous batch is still being written by another worker
		}
		fw.mu.Unlock()
		if !fw.failed.Load() {
			if _, err := cws[c].WriteRowValues(b.cols[c]); err != nil {
				fw.colErrs[c] = err
				fw.failed.Store(true)
			}
		}
		clear(b.cols[c]) // drop the references to record bytes
		b.cols[c] = b.cols[c][:0]
		fw.mu.Lock()
		fw.next[c]++
		fw.turn.Broadcast()
		fw.mu.Unlock()
		if b.left.Add(-1) == 0 {
			b.rows = 0
			fw.free <- b // never blocks: the pool holds every batch of the file
		}
		fw.running.Done()
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
// The column workers must be idle (row group and file ends).
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
	if fw.err == nil && fw.w != nil && fw.stats.cols == nil {
		fw.stats.fromFile(fw.l, fw.w.File().Metadata(), int64(fw.nrows))
	}
	fw.release()
	return fw.err
}

// release drops what only encoding needed: the parquet writer (its column buffers, page
// buffers and bufio.Writer: hundreds of KB even for one row) and the batches. A closed file
// waits in its table's closing list until that table's next flush, and a worker whose input
// spans thousands of tables would otherwise hold one writer per table all that while.
func (fw *fileWriter) release() {
	fw.w = nil
	fw.tasks, fw.next, fw.colErrs = nil, nil, nil
	for {
		select {
		case <-fw.free:
		default:
			return
		}
	}
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
