package route

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/data/worker"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// DefaultPoll is how often Run reads the published consumer definitions when RunConfig.Poll is
// 0 (SPEC-dataplane 11: the environment's gateway.poll, 10s by default).
const DefaultPoll = 10 * time.Second

// Route is one consumer to run: its definition, the topics of its events and its URL.
type Route struct {
	Consumer *consumer.Consumer
	// Topics maps each of the consumer's events to its topic.
	Topics map[string]string
	URL    string
	// Group and DLQ override the consumer group and dead-letter topic (published placements
	// carry them); empty: Group(env, name) and DLQTopic(env, name).
	Group, DLQ string
}

// RunConfig is everything `evctl route` needs.
type RunConfig struct {
	Env string
	// Routes, when set, are run as given and never reloaded. When empty, Run runs the consumers
	// published to Descriptors (consumers/index.json, what apply wrote) and polls them every
	// Poll: a changed template, where, deliver or retry takes effect without a restart, a
	// consumer whose events changed has its worker restarted in-process, and published or
	// removed consumers are started or stopped.
	Routes []Route
	// Only narrows the published consumers to these names (--consumer).
	Only []string
	// WaitForConsumers keeps Run polling when nothing is published yet (evctl dev starts before
	// apply) instead of failing.
	WaitForConsumers bool
	// Getenv reads each published consumer's url_env (nil: every URL is empty).
	Getenv func(string) string
	Poll   time.Duration

	Kafka       []kgo.Opt
	Descriptors blob.Store
	HTTP        *http.Client
	// Listener serves /metrics of every consumer (labelled consumer="<name>"), /healthz and
	// /readyz (200 when every consumer's worker is; nil: not served).
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

// runner is one consumer's worker.
type runner struct {
	route  Route
	sha    string // the published definition it runs ("" for static routes)
	h      *Handler
	w      *worker.Worker
	cancel context.CancelFunc
	done   chan struct{}
}

// supervisor owns every runner's goroutine.
type supervisor struct {
	rc       RunConfig
	producer *kgo.Client
	log      *slog.Logger
	ctx      context.Context
	fail     context.CancelCauseFunc
	wg       sync.WaitGroup

	// registry resolves records to descriptors for every consumer's worker: consumers reading
	// the same events share one fetch and one copy of each set instead of building their own.
	registry *worker.Registry

	mu      sync.Mutex
	runners map[string]*runner
}

// Run runs one worker per consumer until ctx ends. A worker that cannot run stops the others
// and its error is returned, except that of the published consumers (none named) only those
// that can run are run, and Run fails when none can.
func Run(ctx context.Context, rc RunConfig) error {
	if rc.Logger == nil {
		rc.Logger = slog.New(slog.DiscardHandler)
	}
	if rc.HTTP == nil {
		rc.HTTP = NewHTTPClient()
	}
	if rc.Poll <= 0 {
		rc.Poll = DefaultPoll
	}
	var initial []Route
	var shas map[string]string
	var version string
	if len(rc.Routes) > 0 {
		initial = rc.Routes
	} else {
		if rc.Descriptors == nil {
			return errors.New("route: no descriptor store to read the published consumers from")
		}
		pub, err := descstore.ReadConsumers(ctx, rc.Descriptors)
		if err != nil {
			return fmt.Errorf("route: published consumers: %w", err)
		}
		for _, name := range rc.Only {
			if pub.Defs[name] == nil {
				return fmt.Errorf("route: consumer %q is not published to %s (run evctl apply --env %s)", name, rc.Descriptors.URL(), rc.Env)
			}
		}
		initial, shas = published(pub, rc.Only, rc.Getenv)
		if len(initial) == 0 && !rc.WaitForConsumers {
			return fmt.Errorf("route: no consumers are published to %s (run evctl apply --env %s)", rc.Descriptors.URL(), rc.Env)
		}
		version = pub.Index.Version
	}
	producer, err := kgo.NewClient(append(slices.Clone(rc.Kafka), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return fmt.Errorf("route: kafka: %w", err)
	}
	defer producer.Close()
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	s := &supervisor{rc: rc, producer: producer, log: rc.Logger, ctx: ctx, fail: fail, runners: map[string]*runner{},
		registry: worker.NewRegistry(rc.Descriptors)}
	// Consumers the operator named (or handed in) must all run. Of the published set, one that
	// cannot (its url_env unset on this machine, say) is logged and left out, as Kafka Connect
	// marks one connector FAILED and runs the rest; a later publish of it is tried again.
	strict := len(rc.Routes) > 0 || len(rc.Only) > 0
	var firstErr error
	for _, r := range initial {
		if err := s.start(r, shas[r.Consumer.Name]); err != nil {
			if strict {
				fail(err)
				s.wg.Wait()
				return err
			}
			s.log.Error("route: cannot run the published consumer; running the others", "consumer", r.Consumer.Name, "err", err)
			firstErr = cmp.Or(firstErr, err)
		}
	}
	if firstErr != nil && len(s.runners) == 0 && !rc.WaitForConsumers {
		fail(firstErr)
		s.wg.Wait()
		return firstErr
	}
	if rc.Listener != nil {
		srv := &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
		s.wg.Go(func() { _ = srv.Serve(rc.Listener) })
		s.wg.Go(func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		})
	}
	if len(rc.Routes) == 0 {
		s.poll(version)
	}
	<-ctx.Done()
	s.wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// published turns the store's definitions into routes, narrowed to only (when set), with the
// sha256 each runs.
func published(pub *descstore.Consumers, only []string, getenv func(string) string) ([]Route, map[string]string) {
	var out []Route
	shas := map[string]string{}
	for _, name := range pub.Index.Names() {
		if len(only) > 0 && !slices.Contains(only, name) {
			continue
		}
		c, at := consumer.FromDefinition(pub.Defs[name])
		r := Route{Consumer: c, Topics: at.Topics, Group: at.Group, DLQ: at.DLQ}
		if h := c.Deliver.HTTP; h != nil && getenv != nil {
			r.URL = getenv(h.URLEnv)
		}
		out = append(out, r)
		shas[name] = pub.Index.Consumers[name].SHA256
	}
	return out, shas
}

// start builds a consumer's handler and worker and runs them.
func (s *supervisor) start(r Route, sha string) error {
	rc := s.rc
	c := r.Consumer
	var topics []string
	for _, ev := range c.Events {
		if t, ok := r.Topics[ev]; ok {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return fmt.Errorf("route: consumer %s: none of its events has a topic in %s", c.Name, rc.Env)
	}
	sort.Strings(topics)
	group := r.Group
	if group == "" {
		group = Group(rc.Env, c.Name)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	reg := prometheus.NewRegistry()
	h, err := New(ctx, Config{Env: rc.Env, Consumer: c, URL: r.URL, DLQ: r.DLQ, Producer: s.producer, HTTP: rc.HTTP,
		Logger: s.log, Lanes: rc.Lanes, LaneDepth: rc.LaneDepth, CommitEvery: rc.CommitEvery, Metrics: reg})
	if err != nil {
		cancel()
		return err
	}
	wc := worker.Config{Name: "route/" + c.Name, Group: group, Topics: topics, Kafka: rc.Kafka,
		Registry: s.registry, Handler: h, Logger: s.log.With("consumer", c.Name), Metrics: reg,
		// A full lane pauses its partition; lanes drain in milliseconds, so offer again soon.
		WaitRetry: 200 * time.Millisecond}
	if rc.Tune != nil {
		rc.Tune(&wc)
	}
	w, err := worker.New(wc)
	if err != nil {
		cancel()
		return err
	}
	rn := &runner{route: r, sha: sha, h: h, w: w, cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.runners[c.Name] = rn
	s.mu.Unlock()
	s.wg.Go(func() {
		defer close(rn.done)
		if err := w.Run(ctx); err != nil {
			s.fail(fmt.Errorf("route: consumer %s: %w", c.Name, err))
		}
	})
	if rc.Started != nil {
		rc.Started(h)
	}
	return nil
}

// stop ends one consumer's worker gracefully (it commits what was delivered) and waits for it.
func (s *supervisor) stop(name string) {
	s.mu.Lock()
	rn := s.runners[name]
	delete(s.runners, name)
	s.mu.Unlock()
	if rn != nil {
		rn.cancel()
		<-rn.done
	}
}

// poll reads consumers/index.json every Poll and applies what changed, on its own goroutine
// (owned by the supervisor's WaitGroup).
func (s *supervisor) poll(version string) {
	s.wg.Go(func() {
		t := time.NewTicker(s.rc.Poll)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
			idx, _, err := descstore.ReadConsumerIndex(s.ctx, s.rc.Descriptors)
			if err != nil {
				if s.ctx.Err() == nil {
					s.log.Warn("route: cannot read the published consumers; running the last good definitions", "err", err)
				}
				continue
			}
			if idx.Version == version {
				continue
			}
			pub, err := descstore.ReadConsumers(s.ctx, s.rc.Descriptors)
			if err != nil {
				if s.ctx.Err() == nil {
					s.log.Warn("route: cannot read the published consumers; running the last good definitions", "err", err)
				}
				continue
			}
			s.reload(pub)
			version = pub.Index.Version
		}
	})
}

// reload applies a new set of published definitions.
func (s *supervisor) reload(pub *descstore.Consumers) {
	routes, shas := published(pub, s.rc.Only, s.rc.Getenv)
	want := map[string]Route{}
	for _, r := range routes {
		want[r.Consumer.Name] = r
	}
	s.mu.Lock()
	running := maps.Clone(s.runners)
	s.mu.Unlock()
	for name := range running {
		if _, ok := want[name]; !ok {
			s.log.Info("route: consumer unpublished; stopping its worker", "consumer", name)
			s.stop(name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		r, rn := want[name], running[name]
		switch {
		case rn == nil:
			s.log.Info("route: consumer published; starting its worker", "consumer", name)
			if err := s.start(r, shas[name]); err != nil {
				s.log.Error("route: cannot run the published consumer", "consumer", name, "err", err)
			}
		case rn.sha == shas[name] && rn.route.URL == r.URL:
		case sameInput(rn.route, r):
			if err := rn.h.Update(r.Consumer, r.URL); err != nil {
				s.log.Error("route: the published definition cannot run; keeping the previous one", "consumer", name, "err", err)
				continue
			}
			rn.sha, rn.route = shas[name], r
			s.log.Info("route: consumer definition reloaded", "consumer", name, "sha256", shas[name])
		default:
			s.log.Info("route: consumer reads other topics now; restarting its worker", "consumer", name)
			s.stop(name)
			if err := s.start(r, shas[name]); err != nil {
				s.log.Error("route: cannot run the published consumer", "consumer", name, "err", err)
			}
		}
	}
}

// sameInput reports whether two routes read the same topics in the same group (the worker
// can keep running; only the handler's definition changes).
func sameInput(a, b Route) bool {
	return a.Group == b.Group && a.DLQ == b.DLQ && maps.Equal(a.Topics, b.Topics) && slices.Equal(a.Consumer.Events, b.Consumer.Events)
}
