package count

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// RunConfig is everything `evctl count` needs.
type RunConfig struct {
	Env string
	// Events are the counters to run, by event; Topics maps each event ID to its topic.
	Events      []EventCounters
	Topics      map[string]string
	Kafka       []kgo.Opt
	Descriptors blob.Store
	Store       counterstore.Store
	// Listener serves /metrics, /healthz and /readyz (nil: not served).
	Listener net.Listener
	Logger   *slog.Logger
	// Tune is applied to the worker's config (tests shorten intervals).
	Tune func(*worker.Config)
	// Started, when set, is called with the handler once the worker runs (tests, dev).
	Started func(*Handler)
}

// Group is the count workers' consumer group in env (SPEC-dataplane 8).
func Group(env string) string { return worker.GroupID(env, "count") }

// Run runs the count worker until ctx ends, then stops it gracefully (final flush, commit,
// leave the group).
func Run(ctx context.Context, rc RunConfig) error {
	if len(rc.Events) == 0 {
		return errors.New("count: no counters to run")
	}
	ms, err := CompileMilestone(ctx)
	if err != nil {
		return err
	}
	if err := ms.Publish(ctx, rc.Descriptors); err != nil {
		return err
	}
	h, err := New(Config{Env: rc.Env, Group: Group(rc.Env), Events: rc.Events, Store: rc.Store, Kafka: rc.Kafka, Milestone: ms, Logger: rc.Logger})
	if err != nil {
		return err
	}
	defer h.Close()
	var topics []string
	for _, ev := range rc.Events {
		t, ok := rc.Topics[ev.Event]
		if !ok {
			return fmt.Errorf("count: event %s has no topic", ev.Event)
		}
		topics = append(topics, t)
		for _, c := range ev.Repartition {
			topics = append(topics, RepartitionTopic(rc.Env, c))
		}
	}
	sort.Strings(topics)
	if err := ensureTopics(ctx, rc); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(h.collector()); err != nil {
		return fmt.Errorf("count: metrics: %w", err)
	}
	registry := worker.NewRegistry(rc.Descriptors)
	for _, ev := range rc.Events {
		for _, c := range ev.Repartition {
			registry.Alias(RepartitionTopic(rc.Env, c), rc.Topics[ev.Event])
		}
	}
	wc := worker.Config{Name: "count", Group: Group(rc.Env), Topics: topics, Kafka: rc.Kafka,
		Registry: registry, Handler: h, Logger: rc.Logger, Metrics: reg}
	if rc.Tune != nil {
		rc.Tune(&wc)
	}
	w, err := worker.New(wc)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	sctx, stopServe := context.WithCancel(ctx)
	if rc.Listener != nil {
		wg.Go(func() { _ = w.Serve(sctx, rc.Listener) })
	}
	if rc.Started != nil {
		rc.Started(h)
	}
	err = w.Run(ctx)
	stopServe()
	wg.Wait()
	return err
}

func ensureTopics(ctx context.Context, rc RunConfig) error {
	cl, err := kgo.NewClient(rc.Kafka...)
	if err != nil {
		return fmt.Errorf("count: kafka: %w", err)
	}
	defer cl.Close()
	return EnsureTopics(ctx, kadm.NewClient(cl), rc.Env, rc.Events, rc.Topics)
}

// collector exposes Stats as Prometheus counters.
func (h *Handler) collector() prometheus.Collector { return statsCollector{h} }

type statsCollector struct{ h *Handler }

var (
	descEvents      = prometheus.NewDesc("evctl_count_events_total", "Records counted (once per counter they add to).", nil, nil)
	descKeyWrites   = prometheus.NewDesc("evctl_count_key_writes_total", "Counter increments written to the store: one per key per window.", nil, nil)
	descStoreWrites = prometheus.NewDesc("evctl_count_store_writes_total", "Store transactions (one per partition per flush, with its fence).", nil, nil)
	descMilestones  = prometheus.NewDesc("evctl_count_milestones_total", "Milestone records produced.", nil, nil)
)

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descEvents
	ch <- descKeyWrites
	ch <- descStoreWrites
	ch <- descMilestones
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(s.Events))
	ch <- prometheus.MustNewConstMetric(descKeyWrites, prometheus.CounterValue, float64(s.KeyWrites))
	ch <- prometheus.MustNewConstMetric(descStoreWrites, prometheus.CounterValue, float64(s.StoreWrites))
	ch <- prometheus.MustNewConstMetric(descMilestones, prometheus.CounterValue, float64(s.Milestones))
}
