package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Route is one consumer to run: its definition, the topics of its events and its URL.
type Route struct {
	Consumer *consumer.Consumer
	// Topics maps each of the consumer's events to its topic.
	Topics map[string]string
	URL    string
}

// RunConfig is everything `evctl route` needs.
type RunConfig struct {
	Env         string
	Routes      []Route
	Kafka       []kgo.Opt
	Descriptors blob.Store
	HTTP        *http.Client
	// Listener serves /metrics, /healthz and /readyz for the first consumer's worker (nil: not
	// served).
	Listener net.Listener
	Logger   *slog.Logger
	// Tune is applied to each worker's config (tests shorten intervals).
	Tune func(*worker.Config)
	// Lanes, LaneDepth and CommitEvery tune every handler (see Config; 0: defaults).
	Lanes, LaneDepth int
	CommitEvery      time.Duration
	// Started, when set, is called with each handler once its worker runs.
	Started func(*Handler)
}

// Run runs one worker per consumer until ctx ends; the first worker to fail stops the others.
func Run(ctx context.Context, rc RunConfig) error {
	if len(rc.Routes) == 0 {
		return errors.New("route: no consumers to run")
	}
	producer, err := kgo.NewClient(rc.Kafka...)
	if err != nil {
		return fmt.Errorf("route: kafka: %w", err)
	}
	defer producer.Close()
	logger := rc.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var workers []*worker.Worker
	var handlers []*Handler
	for _, r := range rc.Routes {
		c := r.Consumer
		h, err := New(ctx, Config{Env: rc.Env, Consumer: c, URL: r.URL, Producer: producer, HTTP: rc.HTTP, Logger: logger,
			Lanes: rc.Lanes, LaneDepth: rc.LaneDepth, CommitEvery: rc.CommitEvery})
		if err != nil {
			return err
		}
		var topics []string
		for _, ev := range c.Events {
			t, ok := r.Topics[ev]
			if !ok {
				return fmt.Errorf("route: consumer %s: event %s has no topic", c.Name, ev)
			}
			topics = append(topics, t)
		}
		sort.Strings(topics)
		wc := worker.Config{Name: "route/" + c.Name, Group: Group(rc.Env, c.Name), Topics: topics, Kafka: rc.Kafka,
			Registry: worker.NewRegistry(rc.Descriptors), Handler: h, Logger: logger.With("consumer", c.Name), Metrics: prometheus.NewRegistry(),
			// A full lane pauses its partition; lanes drain in milliseconds, so offer again soon.
			WaitRetry: 200 * time.Millisecond}
		if rc.Tune != nil {
			rc.Tune(&wc)
		}
		w, err := worker.New(wc)
		if err != nil {
			return err
		}
		workers = append(workers, w)
		handlers = append(handlers, h)
	}
	var wg sync.WaitGroup
	if rc.Listener != nil {
		wg.Go(func() { _ = workers[0].Serve(ctx, rc.Listener) })
	}
	errs := make([]error, len(workers))
	for i, w := range workers {
		wg.Go(func() {
			errs[i] = w.Run(ctx)
			if errs[i] != nil {
				cancel()
			}
		})
		if rc.Started != nil {
			rc.Started(handlers[i])
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}
