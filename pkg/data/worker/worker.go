package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Defaults of Config.
const (
	DefaultPollInterval   = 200 * time.Millisecond
	DefaultMaxPollRecords = 10000
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultWaitRetry      = 5 * time.Second
	DefaultStopTimeout    = 30 * time.Second
	// PollBuffered as Config.MaxPollRecords: each poll takes every record kgo has buffered.
	PollBuffered = -1
)

// GroupID is the consumer group of a job in an environment (SPEC-dataplane section 8):
// GroupID("prod", "ingest", "delta") is "evctl.prod.ingest.delta".
func GroupID(env string, parts ...string) string {
	id := "evctl." + env
	for _, p := range parts {
		id += "." + p
	}
	return id
}

// Config configures a Worker. Group, Topics, Kafka, Registry and Handler are required.
type Config struct {
	// Name identifies the job in logs and in the evctl-dlq-worker header ("ingest/delta").
	Name     string
	Group    string
	Topics   []string
	Kafka    []kgo.Opt // seed brokers, SASL; the worker adds the group options
	Registry *Registry
	Handler  Handler
	Logger   *slog.Logger
	// Metrics is where the worker registers its collectors (nil: a new registry). Handlers may
	// register theirs in the same registry.
	Metrics *prometheus.Registry
	// PollInterval bounds how long a poll waits for records, so flushes run on time when idle.
	PollInterval time.Duration
	// MaxPollRecords bounds the records one poll takes (0: DefaultMaxPollRecords; PollBuffered:
	// everything kgo has buffered). kgo fetches again from a broker only once its buffered fetch
	// was taken whole, so a bounded poll leaves the worker waiting for each fetch's round trip;
	// PollBuffered overlaps the next fetch with handling this one (the fetch buffers bound it).
	MaxPollRecords int
	MinBackoff     time.Duration
	MaxBackoff     time.Duration
	// WaitRetry is how often a paused partition's records are offered again.
	WaitRetry time.Duration
	// StopTimeout bounds the final flush when Run's context ends.
	StopTimeout time.Duration
}

// Worker runs one Handler as a member of a consumer group.
type Worker struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	health  health
	cl      *kgo.Client

	// mu serialises the poll loop's processing with the group callbacks (which run on kgo's
	// goroutine); with BlockRebalanceOnPoll they already alternate, the mutex makes it explicit.
	mu        sync.Mutex
	assigned  map[TopicPartition]bool
	next      map[TopicPartition]int64 // offset after the last record handled or dead-lettered
	committed map[TopicPartition]int64 // last offset committed to Kafka
	pending   map[TopicPartition][]*kgo.Record
	lastWait  time.Time
	// lastSchema is schemaOf's cache; descWait is set while the descriptors gauge says waiting.
	lastSchema schemaCache
	descWait   bool
	failing    int       // consecutive failed flushes
	retryAt    time.Time // next flush attempt while failing
}

// New checks cfg and builds the worker's Kafka client (no connection is made yet).
func New(cfg Config) (*Worker, error) {
	switch {
	case cfg.Group == "":
		return nil, errors.New("worker: no consumer group")
	case len(cfg.Topics) == 0:
		return nil, errors.New("worker: no topics")
	case cfg.Registry == nil || cfg.Handler == nil:
		return nil, errors.New("worker: no registry or handler")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.PollInterval, DefaultPollInterval)
	def(&cfg.MinBackoff, DefaultMinBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	def(&cfg.WaitRetry, DefaultWaitRetry)
	def(&cfg.StopTimeout, DefaultStopTimeout)
	if cfg.MaxPollRecords == 0 || cfg.MaxPollRecords < PollBuffered {
		cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Group
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	w := &Worker{cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Metrics),
		assigned: map[TopicPartition]bool{}, next: map[TopicPartition]int64{}, committed: map[TopicPartition]int64{},
		pending: map[TopicPartition][]*kgo.Record{}}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("worker", cfg.Name, "group", cfg.Group)
	// Bounded fetch buffers (a later option in cfg.Kafka wins): with many partitions kgo's
	// defaults would buffer hundreds of MB of backlog ahead of the sink.
	opts := append([]kgo.Opt{kgo.FetchMaxBytes(16 << 20), kgo.FetchMaxPartitionBytes(1 << 20)}, cfg.Kafka...)
	opts = append(opts,
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topics...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(w.onAssigned),
		kgo.AdjustFetchOffsetsFn(w.adjust),
		kgo.OnPartitionsRevoked(w.onRevoked),
		kgo.OnPartitionsLost(w.onLost),
		kgo.RequiredAcks(kgo.AllISRAcks()), // the DLQ producer
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("worker: kafka client: %w", err)
	}
	w.cl = cl
	return w, nil
}

// Metrics returns the registry the worker's collectors are in.
func (w *Worker) Metrics() *prometheus.Registry { return w.cfg.Metrics }

// Run consumes until ctx ends, then flushes what was handled (bounded by StopTimeout), commits
// its offsets, leaves the group and returns nil. It returns an error only when it cannot run at
// all; sink and store failures are retried, never returned.
func (w *Worker) Run(ctx context.Context) error {
	defer w.cl.Close()
	w.log.Info("worker started", "topics", w.cfg.Topics)
	for ctx.Err() == nil {
		w.health.alive.Store(time.Now().UnixNano())
		if w.failing > 0 {
			if !sleep(ctx, time.Until(w.retryAt)) {
				break
			}
			w.mu.Lock()
			w.flushUnlessStopped(ctx)
			w.mu.Unlock()
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, w.cfg.PollInterval)
		fetches := w.cl.PollRecords(pctx, w.cfg.MaxPollRecords)
		cancel()
		w.mu.Lock()
		w.processFetches(ctx, fetches)
		w.retryWaiting(ctx)
		if ctx.Err() == nil && w.cfg.Handler.FlushDue(time.Now()) {
			w.flushUnlessStopped(ctx)
		}
		w.mu.Unlock()
		w.cl.AllowRebalance()
	}
	w.stop()
	return nil
}

// flushUnlessStopped runs a periodic flush that a stop arriving midway does not cut short: a
// flush cancelled between its store write and what follows it (the counters' changelog and
// milestones) would leave that tail to the next run's redo instead of this run's final flush.
// StopTimeout bounds it, as it bounds the final flush.
func (w *Worker) flushUnlessStopped(ctx context.Context) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.StopTimeout)
	defer cancel()
	w.flushCommit(fctx, false)
}

// stop makes what was handled durable and commits it, then lets Close leave the group.
func (w *Worker) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.StopTimeout)
	defer cancel()
	w.mu.Lock()
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if w.flushCommit(ctx, true) {
			break
		}
		if !sleep(ctx, w.backoff(attempt)) {
			w.log.Warn("stopping without flushing: the sink did not take the last batch in time; it will be re-read from Kafka")
			w.cfg.Handler.Reset()
		}
	}
	w.mu.Unlock()
	w.cl.AllowRebalance()
	w.log.Info("worker stopped")
}

func (w *Worker) processFetches(ctx context.Context, fetches kgo.Fetches) {
	w.lastSchema.schema = nil // a registry refresh may have remapped a topic since the last poll
	fetches.EachError(func(t string, p int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
			return
		}
		w.log.Warn("fetch error (kgo retries)", "topic", t, "partition", p, "err", err)
	})
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		tp := TopicPartition{p.Topic, p.Partition}
		w.metrics.in.WithLabelValues(p.Topic).Add(float64(len(p.Records)))
		for _, r := range p.Records {
			if ctx.Err() != nil {
				return
			}
			w.offer(ctx, tp, r)
		}
		if n, ok := w.next[tp]; ok && p.HighWatermark >= n {
			w.metrics.lag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(p.HighWatermark - n))
		}
	})
}

// offer hands one polled record to the handler unless it is stale or its partition waits.
func (w *Worker) offer(ctx context.Context, tp TopicPartition, r *kgo.Record) {
	if !w.assigned[tp] {
		return // revoked since it was fetched
	}
	if n, ok := w.next[tp]; ok && r.Offset < n {
		return // already handled (a rewind or seek re-delivered it)
	}
	if q, waiting := w.pending[tp]; waiting {
		w.pending[tp] = append(q, r)
		return
	}
	if wait, ok := w.handle(ctx, r); !ok && wait != nil {
		w.pending[tp] = []*kgo.Record{r}
		w.cl.PauseFetchPartitions(map[string][]int32{tp.Topic: {tp.Partition}})
		w.metrics.paused.WithLabelValues(tp.Topic, strconv.Itoa(int(tp.Partition))).Set(1)
		w.lastWait = time.Now()
		if wait.Busy { // back-pressure, routine while catching up: not worth a warning
			w.log.Debug("partition paused: the handler's buffer is full", "topic", tp.Topic, "partition", tp.Partition, "offset", r.Offset, "reason", wait.Reason)
			return
		}
		w.log.Warn("partition paused: the sink cannot take this record yet; it resumes when it can (run evctl apply)",
			"topic", tp.Topic, "partition", tp.Partition, "offset", r.Offset, "reason", wait.Reason)
	}
}

// handle decodes and hands one record to the handler, dead-lettering what can never be handled
// and retrying what failed for now. ok is true when the record is done (taken or in the DLQ);
// otherwise wait says why the partition must pause (nil when ctx ended).
func (w *Worker) handle(ctx context.Context, r *kgo.Record) (wait *WaitError, ok bool) {
	tp := TopicPartition{r.Topic, r.Partition}
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return nil, false
		}
		schema, err := w.schemaOf(ctx, r)
		var noSchema *noSchemaError
		if errors.As(err, &noSchema) {
			return nil, w.deadLetter(ctx, r, noSchema.reason)
		}
		if err != nil {
			w.descWait = true
			w.waitOn(ctx, "descriptors", err, attempt)
			continue
		}
		if w.descWait {
			w.metrics.waitingFor.WithLabelValues("descriptors").Set(0)
			w.descWait = false
		}
		err = w.cfg.Handler.Handle(ctx, &Record{Record: r, Schema: schema})
		var recErr *RecordError
		var waitErr *WaitError
		switch {
		case err == nil:
			w.metrics.outOf(r.Topic).Inc()
			w.next[tp] = r.Offset + 1
			return nil, true
		case errors.As(err, &recErr):
			return nil, w.deadLetter(ctx, r, recErr.Reason)
		case errors.As(err, &waitErr):
			return waitErr, false
		default:
			w.waitOn(ctx, "sink", err, attempt)
		}
	}
}

// waitOn logs, exposes and sleeps through one failed attempt.
func (w *Worker) waitOn(ctx context.Context, on string, err error, attempt int) {
	w.metrics.waitingFor.WithLabelValues(on).Set(1)
	w.health.setErr(fmt.Errorf("%s: %w", on, err))
	d := w.backoff(attempt)
	w.log.Warn("waiting for "+on, "err", err, "retry_in", d)
	sleep(ctx, d)
}

// retryWaiting offers the records of paused partitions again, every WaitRetry.
func (w *Worker) retryWaiting(ctx context.Context) {
	if len(w.pending) == 0 || time.Since(w.lastWait) < w.cfg.WaitRetry {
		return
	}
	w.lastWait = time.Now()
	for tp, q := range w.pending {
		i := 0
		for ; i < len(q) && ctx.Err() == nil; i++ {
			if _, ok := w.handle(ctx, q[i]); !ok {
				break
			}
		}
		if i < len(q) {
			w.pending[tp] = q[i:]
			continue
		}
		delete(w.pending, tp)
		w.cl.ResumeFetchPartitions(map[string][]int32{tp.Topic: {tp.Partition}})
		w.metrics.paused.WithLabelValues(tp.Topic, strconv.Itoa(int(tp.Partition))).Set(0)
		w.log.Info("partition resumed", "topic", tp.Topic, "partition", tp.Partition)
	}
}

// flushCommit flushes the handler and, when that made the records durable, commits the offsets
// handled so far. It reports success; on failure it schedules the next attempt.
func (w *Worker) flushCommit(ctx context.Context, final bool) bool {
	start := time.Now()
	durable, err := w.cfg.Handler.Flush(ctx, final)
	var rewind *RewindError
	if errors.As(err, &rewind) {
		w.log.Warn("sink dropped its buffer; re-reading positions from the sink", "reason", rewind.Reason)
		w.rewind(ctx)
		w.failing = 0
		return true
	}
	if err != nil {
		w.metrics.flushErrs.Inc()
		w.metrics.waitingFor.WithLabelValues("sink").Set(1)
		w.health.setErr(fmt.Errorf("sink: %w", err))
		d := w.backoff(w.failing)
		w.failing++
		w.retryAt = time.Now().Add(d)
		w.log.Warn("sink flush failed; retrying (nothing is skipped)", "err", err, "attempt", w.failing, "retry_in", d)
		return false
	}
	if w.failing > 0 {
		w.log.Info("sink flush succeeded again", "after_attempts", w.failing)
	}
	w.failing = 0
	w.metrics.waitingFor.WithLabelValues("sink").Set(0)
	w.health.setErr(nil)
	if !durable {
		return true
	}
	w.metrics.flush.Observe(time.Since(start).Seconds())
	w.commitOffsets(ctx)
	return true
}

// commitOffsets commits the handled positions that moved. A failed commit is logged only: the
// sink holds the truth and the next assignment starts from the sink's position.
func (w *Worker) commitOffsets(ctx context.Context) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	moved := map[TopicPartition]int64{}
	var durable map[TopicPartition]int64
	if d, ok := w.cfg.Handler.(Durabler); ok {
		durable = d.Durable()
	}
	for tp, n := range w.next {
		if d, ok := durable[tp]; ok && d < n {
			n = d
		}
		if c, ok := w.committed[tp]; ok && c == n || n < 0 {
			continue
		}
		if offsets[tp.Topic] == nil {
			offsets[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: n}
		moved[tp] = n
	}
	if len(moved) == 0 {
		return
	}
	start := time.Now()
	var commitErr error
	w.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerrOf(p.ErrorCode); e != nil {
					commitErr = errors.Join(commitErr, fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, e))
					delete(moved, TopicPartition{t.Topic, p.Partition})
				}
			}
		}
	})
	w.metrics.commit.Observe(time.Since(start).Seconds())
	if commitErr != nil {
		w.log.Warn("offset commit failed (the sink's positions still hold)", "err", commitErr)
		if errors.Is(commitErr, context.Canceled) {
			return
		}
	}
	for tp, n := range moved {
		w.committed[tp] = n
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff is capped exponential: MinBackoff doubling up to MaxBackoff.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.MinBackoff
	for i := 0; i < attempt && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.cfg.MaxBackoff)
}

// noSchemaError is a record whose schema can never be found: it goes to the DLQ.
type noSchemaError struct{ reason string }

func (e *noSchemaError) Error() string { return e.reason }

// schemaOf returns the schema the record's evctl-schema header names. The last answer is
// reused while records of the same topic carry the same header (most of a poll's records):
// the header is compared as bytes, without a string, a key and the registry's locks per
// record. The cache lasts one poll (processFetches clears it).
func (w *Worker) schemaOf(ctx context.Context, r *kgo.Record) (*Schema, error) {
	var sha []byte
	for _, h := range r.Headers {
		if h.Key == HeaderSchema {
			sha = h.Value
			break
		}
	}
	if len(sha) == 0 {
		return nil, &noSchemaError{reason: "no " + HeaderSchema + " header"}
	}
	if c := &w.lastSchema; c.schema != nil && c.topic == r.Topic && bytes.Equal(c.sha, sha) {
		return c.schema, nil
	}
	schema, err := w.cfg.Registry.Schema(ctx, r.Topic, string(sha))
	if errors.Is(err, errNoSchema) {
		return nil, &noSchemaError{reason: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	w.lastSchema = schemaCache{topic: r.Topic, sha: append(w.lastSchema.sha[:0], sha...), schema: schema}
	return schema, nil
}

// schemaCache is the last schema schemaOf found.
type schemaCache struct {
	topic  string
	sha    []byte
	schema *Schema
}
