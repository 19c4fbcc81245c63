package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"
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
	// Producer writes DLQ records.
	Producer *kgo.Client
	// HTTP is the client deliveries use (nil: a new one); each attempt has the consumer's timeout.
	HTTP   *http.Client
	Logger *slog.Logger
}

// item is one record to deliver.
type item struct {
	rec  *kgo.Record
	body []byte
	id   string // the event's event_id, the Idempotency-Key
	ev   string // <domain>/<event>
}

// Handler delivers one consumer's events.
type Handler struct {
	cfg        Config
	tpl        *transform.Template
	timeout    time.Duration
	backoff    time.Duration
	maxBackoff time.Duration
	attempts   int
	limiter    *rate.Limiter
	http       *http.Client
	log        *slog.Logger

	pending map[worker.TopicPartition][]item
	stats   Stats
	mu      sync.Mutex // guards stats (Flush delivers partitions in parallel)
}

// Stats count what the handler did.
type Stats struct {
	Delivered, Filtered, DeadLettered, Retries int64
}

// New validates the consumer (what lint checks, again at run time) and builds its handler.
func New(cfg Config) (*Handler, error) {
	c := cfg.Consumer
	if c.Deliver.HTTP == nil {
		return nil, fmt.Errorf("route: consumer %s: only deliver.http is supported by this version of evctl route", c.Name)
	}
	if cfg.URL == "" {
		return nil, fmt.Errorf("route: consumer %s: %s is not set", c.Name, c.Deliver.HTTP.URLEnv)
	}
	tpl, err := transform.Parse(c.Transform, transform.Options{})
	if err != nil {
		return nil, fmt.Errorf("route: consumer %s: %w", c.Name, err)
	}
	h := &Handler{cfg: cfg, tpl: tpl, attempts: c.Retry.Attempts(), http: cfg.HTTP, log: cfg.Logger, pending: map[worker.TopicPartition][]item{}}
	if h.timeout, err = c.Deliver.HTTP.HTTPTimeout(); err != nil {
		return nil, fmt.Errorf("route: consumer %s: %w", c.Name, err)
	}
	if h.backoff, err = c.Retry.BackoffDuration(); err != nil {
		return nil, fmt.Errorf("route: consumer %s: %w", c.Name, err)
	}
	if h.maxBackoff, err = c.Retry.MaxBackoffDuration(); err != nil {
		return nil, fmt.Errorf("route: consumer %s: %w", c.Name, err)
	}
	if rps := c.Deliver.HTTP.MaxRPS; rps > 0 {
		h.limiter = rate.NewLimiter(rate.Limit(rps), max(1, int(rps)))
	}
	if h.http == nil {
		h.http = &http.Client{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// Stats returns a copy of the counters.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}

// Assigned starts every partition at the group's committed offset: delivery has no sink
// position of its own.
func (h *Handler) Assigned(context.Context, []worker.TopicPartition) (map[worker.TopicPartition]int64, error) {
	return nil, nil
}

// Handle filters and renders one record. A record the template cannot render goes to the
// worker's DLQ (a *RecordError): it would fail the same way on every attempt.
func (h *Handler) Handle(ctx context.Context, rec *worker.Record) error {
	m, err := rec.Decode()
	if err != nil {
		return err
	}
	if !h.matches(m) {
		h.mu.Lock()
		h.stats.Filtered++
		h.mu.Unlock()
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, transform.DefaultTimeout)
	body, err := h.tpl.Render(rctx, transform.Data(m), 0)
	cancel()
	if err != nil {
		return &worker.RecordError{Reason: fmt.Sprintf("consumer %s: %v", h.cfg.Consumer.Name, err)}
	}
	id := fmt.Sprintf("%s/%d/%d", rec.Topic, rec.Partition, rec.Offset)
	if fd := m.Descriptor().Fields().ByName("event_id"); fd != nil && fd.Kind() == protoreflect.StringKind && m.Get(fd).String() != "" {
		id = m.Get(fd).String()
	}
	tp := rec.TP()
	h.pending[tp] = append(h.pending[tp], item{rec: rec.Record, body: body, id: id, ev: rec.Schema.Event})
	return nil
}

// matches applies where: every named top-level field equals the written value (enum names,
// numbers and booleans as written).
func (h *Handler) matches(m protoreflect.Message) bool {
	for name, want := range h.cfg.Consumer.Where {
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

// FlushDue: deliver as soon as anything is pending.
func (h *Handler) FlushDue(time.Time) bool { return len(h.pending) > 0 }

// Flush delivers every pending record: partitions in parallel, each partition's records one at
// a time in order. A partition stops at the first record it could neither deliver nor
// dead-letter (the context ended, the DLQ is down); its records stay pending for the next Flush.
func (h *Handler) Flush(ctx context.Context, _ bool) (bool, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	work := make(map[worker.TopicPartition][]item, len(h.pending))
	for tp, items := range h.pending {
		work[tp] = items
	}
	for tp, items := range work {
		wg.Go(func() {
			n, err := h.deliverAll(ctx, items)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("route: consumer %s %s: %w", h.cfg.Consumer.Name, tp, err))
			}
			if n == len(items) {
				delete(h.pending, tp)
			} else {
				h.pending[tp] = items[n:]
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	return true, nil
}

func (h *Handler) deliverAll(ctx context.Context, items []item) (int, error) {
	for i, it := range items {
		if err := h.deliver(ctx, it); err != nil {
			return i, err
		}
	}
	return len(items), nil
}

// Revoked forgets the partitions' pending records (the worker flushed them first).
func (h *Handler) Revoked(_ context.Context, parts []worker.TopicPartition) {
	for _, tp := range parts {
		delete(h.pending, tp)
	}
}

// Reset drops everything pending; the records are read again from the committed offsets.
func (h *Handler) Reset() { h.pending = map[worker.TopicPartition][]item{} }
