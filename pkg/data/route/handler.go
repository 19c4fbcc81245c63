package route

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/transform"
	"github.com/evctl/evctl/pkg/data/worker"
)

// DLQ headers (SPEC-dataplane 11).
const (
	HeaderDLQReason     = "evctl-dlq-reason"
	HeaderDLQAttempts   = "evctl-dlq-attempts"
	HeaderDLQLastStatus = "evctl-dlq-last-status"
)

// Defaults of Config.
const (
	DefaultLanes       = 4
	DefaultLaneDepth   = 512
	DefaultCommitEvery = time.Second
)

// Group is a consumer's consumer group in env.
func Group(env, name string) string { return worker.GroupID(env, "consumer", name) }

// DLQTopic is a consumer's dead-letter topic in env.
func DLQTopic(env, name string) string { return env + ".consumers." + name + ".dlq" }

// Config is one consumer's handler.
type Config struct {
	Env      string
	Consumer *consumer.Consumer
	// URL is the value of the consumer's url_env (read by the command, never logged).
	URL string
	// DLQ is the consumer's dead-letter topic ("": DLQTopic(Env, name)).
	DLQ string
	// Producer writes DLQ records and deliver.kafka records.
	Producer *kgo.Client
	// HTTP is the client deliveries use (nil: a new one); each attempt has the consumer's timeout.
	HTTP   *http.Client
	Logger *slog.Logger
	// Lanes per partition (records go to a lane by key hash) and records queued per lane
	// before the partition pauses; CommitEvery is how often delivered offsets are committed.
	Lanes, LaneDepth int
	CommitEvery      time.Duration
	// Metrics is where the handler registers its evctl_route_* collectors (nil: not registered).
	Metrics prometheus.Registerer
}

// item is one record to deliver.
type item struct {
	rec  *kgo.Record
	body []byte
	id   string // the event's event_id, the Idempotency-Key
	ev   string // <domain>/<event>
	seq  int64  // its place in its partition (set by partition.offer)
}

// Handler delivers one consumer's events. It is a worker.Handler: Handle filters and renders
// on the worker's goroutine and hands the body to the partition's lanes, which deliver in the
// background; Flush never waits for a receiver, and the worker commits only offsets the lanes
// delivered or dead-lettered (Durable).
type Handler struct {
	cfg  Config
	life context.Context // deliveries' parent: when it ends, attempts in flight are abandoned
	spec atomic.Pointer[spec]
	log  *slog.Logger

	mu    sync.Mutex // guards parts (lanes read it never; the worker's goroutine and Revoked do)
	parts map[worker.TopicPartition]*partition

	dirty     atomic.Bool // positions moved since the last Flush
	lastFlush time.Time

	delivered, filtered, deadLettered, retries atomic.Int64
	metrics                                    *metrics
}

// Stats count what the handler did.
type Stats struct {
	Delivered, Filtered, DeadLettered, Retries int64
}

// New validates the consumer (what lint checks, again at run time) and builds its handler.
// ctx bounds every delivery: when it ends, attempts in flight are abandoned and their records
// stay uncommitted (read again after a restart).
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if cfg.HTTP == nil {
		cfg.HTTP = NewHTTPClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Lanes <= 0 {
		cfg.Lanes = DefaultLanes
	}
	if cfg.LaneDepth <= 0 {
		cfg.LaneDepth = DefaultLaneDepth
	}
	if cfg.DLQ == "" && cfg.Consumer != nil {
		cfg.DLQ = DLQTopic(cfg.Env, cfg.Consumer.Name)
	}
	if cfg.CommitEvery <= 0 {
		cfg.CommitEvery = DefaultCommitEvery
	}
	s, err := compile(cfg.Consumer, cfg.URL, cfg.Producer, cfg.HTTP)
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, life: ctx, log: cfg.Logger, parts: map[worker.TopicPartition]*partition{}}
	h.metrics = newMetrics(cfg.Metrics, cfg.Consumer.Name, h.queued)
	h.spec.Store(s)
	return h, nil
}

// NewHTTPClient is a client that keeps enough idle connections for every lane of every
// partition (net/http keeps 2 per host by default, which would reconnect on most deliveries).
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 1024
	return &http.Client{Transport: t}
}

// Update replaces the consumer definition (hot reload): template, where, deliver and retry take
// effect for the next record handled and the next attempt of every record waiting. The events
// a consumer reads cannot change here (they are its worker's topics). On error the running
// definition stays.
func (h *Handler) Update(c *consumer.Consumer, url string) error {
	s, err := compile(c, url, h.cfg.Producer, h.cfg.HTTP)
	if err != nil {
		return err
	}
	h.spec.Store(s)
	return nil
}

// Consumer is the definition the handler runs now.
func (h *Handler) Consumer() *consumer.Consumer { return h.spec.Load().c }

// Stats returns a copy of the counters.
func (h *Handler) Stats() Stats {
	return Stats{Delivered: h.delivered.Load(), Filtered: h.filtered.Load(), DeadLettered: h.deadLettered.Load(), Retries: h.retries.Load()}
}

// Assigned starts every partition at the group's committed offset: delivery has no sink
// position of its own.
func (h *Handler) Assigned(context.Context, []worker.TopicPartition) (map[worker.TopicPartition]int64, error) {
	return nil, nil
}

// Handle filters and renders one record and hands it to its partition's lanes. A record the
// template cannot render goes to the worker's DLQ (a *RecordError): it would fail the same way
// on every attempt. A full lane pauses the partition (a *WaitError) until it drains.
func (h *Handler) Handle(ctx context.Context, rec *worker.Record) error {
	s := h.spec.Load()
	m, err := rec.Decode()
	if err != nil {
		return err
	}
	h.dirty.Store(true)
	if !matches(s.c.Where, m) {
		h.filtered.Add(1)
		h.metrics.filtered.Inc()
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, transform.DefaultTimeout)
	body, err := s.tpl.Render(rctx, transform.Data(m), 0)
	cancel()
	if err != nil {
		return &worker.RecordError{Reason: fmt.Sprintf("consumer %s: %v", s.c.Name, err)}
	}
	id := fmt.Sprintf("%s/%d/%d", rec.Topic, rec.Partition, rec.Offset)
	if fd := m.Descriptor().Fields().ByName("event_id"); fd != nil && fd.Kind() == protoreflect.StringKind && m.Get(fd).String() != "" {
		id = m.Get(fd).String()
	}
	tp := rec.TP()
	h.mu.Lock()
	p := h.parts[tp]
	if p == nil {
		p = newPartition(h.life, h.cfg.Lanes, h.cfg.LaneDepth, h.deliver, func() { h.dirty.Store(true) })
		h.parts[tp] = p
	}
	h.mu.Unlock()
	if !p.offer(item{rec: rec.Record, body: body, id: id, ev: rec.Schema.Event}) {
		return &worker.WaitError{Reason: fmt.Sprintf("consumer %s: %d deliveries already queued for this key's lane; waiting for the receiver", s.c.Name, h.cfg.LaneDepth), Busy: true}
	}
	return nil
}

// matches applies where: every named top-level field equals the written value (enum names,
// numbers and booleans as written).
func matches(where map[string]string, m protoreflect.Message) bool {
	for name, want := range where {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.IsList() || fd.IsMap() {
			return false
		}
		v := m.Get(fd)
		var got string
		switch fd.Kind() {
		case protoreflect.EnumKind:
			if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
				got = string(ev.Name())
			}
		case protoreflect.MessageKind, protoreflect.GroupKind:
			return false
		default:
			got = v.String()
		}
		if got != want {
			return false
		}
	}
	return true
}

// FlushDue: commit delivered positions every CommitEvery while they move.
func (h *Handler) FlushDue(now time.Time) bool {
	return h.dirty.Load() && now.Sub(h.lastFlush) >= h.cfg.CommitEvery
}

// Flush never waits for a receiver: deliveries run in the lanes and the worker commits what
// Durable reports. When the handler's context has ended (the worker is stopping), it first
// waits for the lanes to abandon their attempts, so the final commit is exact.
func (h *Handler) Flush(ctx context.Context, final bool) (bool, error) {
	h.lastFlush = time.Now()
	h.dirty.Store(false)
	if final && h.life.Err() != nil {
		h.mu.Lock()
		parts := make([]*partition, 0, len(h.parts))
		for _, p := range h.parts {
			parts = append(parts, p)
		}
		h.mu.Unlock()
		for _, p := range parts {
			p.stop() // the lanes' context is done: they exit at once
		}
	}
	return true, nil
}

// queued counts the events waiting in every partition's lanes.
func (h *Handler) queued() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, p := range h.parts {
		n += p.waiting()
	}
	return float64(n)
}

// Durable reports, for each partition with records not yet delivered or dead-lettered, the
// first such offset: the worker commits no further (worker.Durabler).
func (h *Handler) Durable() map[worker.TopicPartition]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[worker.TopicPartition]int64{}
	for tp, p := range h.parts {
		if n, ok := p.durable(); ok {
			out[tp] = n
		}
	}
	return out
}

// Revoked stops the partitions' lanes (an event in backoff is abandoned: its offset was not
// committed, the new owner delivers it) and forgets them.
func (h *Handler) Revoked(_ context.Context, parts []worker.TopicPartition) {
	h.mu.Lock()
	var stop []*partition
	for _, tp := range parts {
		if p := h.parts[tp]; p != nil {
			stop = append(stop, p)
			delete(h.parts, tp)
		}
	}
	h.mu.Unlock()
	for _, p := range stop {
		p.stop()
	}
}

// Reset abandons everything not delivered; the records are read again from the committed
// offsets.
func (h *Handler) Reset() {
	h.mu.Lock()
	parts := h.parts
	h.parts = map[worker.TopicPartition]*partition{}
	h.mu.Unlock()
	for _, p := range parts {
		p.stop()
	}
}
