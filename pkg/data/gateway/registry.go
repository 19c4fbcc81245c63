package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/evctl/evctl/pkg/data/convert"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Snapshot is one immutable generation of the registry.
type Snapshot struct {
	Generation int64
	Events     map[string]*Event
	LoadedAt   time.Time
}

// Registry holds the current Snapshot and reloads it from the descriptor store.
type Registry struct {
	store   blob.Store
	opts    convert.Options
	keys    func(event string) []string
	log     *slog.Logger
	metrics *metrics

	cur     atomic.Pointer[Snapshot]
	mu      sync.Mutex // serialises Reload
	lastGen blob.Gen
	lastErr atomic.Pointer[string]
	gen     int64
	// sets fetches an event's set when the event is first used, and builds it sharing the
	// imports sets have in common (well-known types, protovalidate's rules, evctl's options):
	// with 10,000 events, one copy of them instead of 10,000.
	sets *descstore.Loader
	// preload builds every new or changed event at reload instead of on its first request.
	preload bool
	// budget bounds what the loaded events hold, evicting the least recently used.
	budget *budget
}

// newRegistry returns an empty registry whose loaded events are bounded by limit bytes
// (estimated; <= 0: unbounded).
func newRegistry(store blob.Store, opts convert.Options, keys func(string) []string, log *slog.Logger, m *metrics, limit int64) *Registry {
	return &Registry{store: store, opts: opts, keys: keys, log: log, metrics: m, sets: descstore.NewLoader(store), budget: newBudget(limit, m)}
}

// Current returns the current snapshot, or nil before the first successful load.
func (r *Registry) Current() *Snapshot { return r.cur.Load() }

// LastError returns the error of the last reload, or "" when it succeeded.
func (r *Registry) LastError() string {
	if p := r.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// Reload reads index.json and swaps in a snapshot of what it names. Events are not built here
// but on their first request (Event.Load), so a first load reads index.json only. An event
// whose entry did not change keeps what it built; a changed or new event starts unbuilt, except
// that a changed event already in use is fetched and built now: so a reload costs what changed
// and was in use, and a broken update of an event in use keeps the last good registry. An
// unchanged index is a no-op. On any error the current snapshot stays and the error is returned
// (and kept for /readyz).
func (r *Registry) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.reload(ctx)
	if err != nil {
		msg := err.Error()
		r.lastErr.Store(&msg)
		r.metrics.reloadErrors.Inc()
		r.log.Error("registry reload failed; keeping the last good registry", "err", err, "generation", r.gen)
		return err
	}
	r.lastErr.Store(nil)
	return nil
}

func (r *Registry) reload(ctx context.Context) error {
	start := time.Now()
	prev := r.cur.Load()
	since := r.lastGen
	if prev == nil {
		since = ""
	}
	idx, gen, changed, err := descstore.ReadIndexSince(ctx, r.store, since)
	if err != nil {
		return fmt.Errorf("gateway: registry: %w", err)
	}
	if !changed {
		return nil
	}
	next := &Snapshot{Events: make(map[string]*Event, len(idx.Events)), LoadedAt: time.Now()}
	var warm, gone []*Event
	for id, e := range idx.Events {
		var old *Event
		if prev != nil {
			old = prev.Events[id]
		}
		if old != nil && old.Entry == e {
			next.Events[id] = old
			continue
		}
		ev := &Event{ID: id, Entry: e, reg: r}
		if old != nil {
			gone = append(gone, old)
		}
		if old != nil && old.Entry.Topic == e.Topic {
			ev.maxRecord.Store(old.maxRecord.Load())
		}
		next.Events[id] = ev
		if r.preload || old != nil && old.Loaded() != nil {
			warm = append(warm, ev)
		}
	}
	// Changed events in use (every new or changed event with Config.Preload) are built before
	// the swap, on every core: requests for them never wait on a fetch, and a set that cannot be
	// built keeps the last good registry.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, ev := range warm {
		g.Go(func() error {
			_, err := ev.Load(gctx)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		r.budget.retire(warm) // the snapshot they were built for is dropped
		return err
	}
	if prev != nil {
		for id, ev := range prev.Events {
			if _, ok := next.Events[id]; !ok {
				gone = append(gone, ev)
			}
		}
	}
	loaded := next.loaded()
	r.gen++
	next.Generation = r.gen
	r.lastGen = gen
	r.cur.Store(next)
	// What the replaced and removed events loaded is no longer counted: requests still using
	// them finish, and nothing reaches them after.
	r.budget.retire(gone)
	r.metrics.generation.Set(float64(r.gen))
	r.metrics.events.Set(float64(len(next.Events)))
	r.log.Info("registry loaded", "generation", r.gen, "events", len(next.Events), "built", loaded, "built_now", len(warm), "took_ms", time.Since(start).Milliseconds())
	return nil
}

// limitsFunc reads the record limits of topics: those it could read, and an error saying what it
// could not.
type limitsFunc func(ctx context.Context, topics []string) (map[string]int64, error)

// limitsRefreshAll is how often every known record limit is read again; between, each poll
// reads only the limits not known yet (events loaded since). A topic's max.message.bytes seldom
// changes, and a record over a lowered limit is still refused by the broker (a 413 too): with
// 10,000 topics in use, reading every limit at every poll was 10 DescribeConfigs requests of
// 1,000 topics each, every 10 s, for nothing.
const limitsRefreshAll = 5 * time.Minute

// Poll reloads every interval until ctx ends, and after each reload reads the record limits not
// known yet with limits (nil: none), and every limit each limitsRefreshAll. It returns when ctx
// is done.
func (r *Registry) Poll(ctx context.Context, interval time.Duration, limits limitsFunc) {
	t := time.NewTicker(interval)
	defer t.Stop()
	r.refreshLimits(ctx, limits)
	lastAll := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.Reload(ctx) // logged and kept for /readyz by Reload
			if time.Since(lastAll) >= limitsRefreshAll {
				r.refreshLimits(ctx, limits)
				lastAll = time.Now()
			} else {
				r.readLimits(ctx, limits, true)
			}
		}
	}
}

// refreshLimits reads the topic limits of every event in use.
func (r *Registry) refreshLimits(ctx context.Context, limits limitsFunc) {
	r.readLimits(ctx, limits, false)
}

// readLimits reads the topic limits of the events in use (one not loaded yet has no record to
// check), only those not known yet when unknown is set, all in one call: asked one topic at a
// time, 10,000 events in use made a poll 10,000 round trips. A limit that cannot be read keeps
// the last known one (the broker still refuses an oversized record, and that answer is mapped
// to a 413 too).
func (r *Registry) readLimits(ctx context.Context, limits limitsFunc, unknown bool) {
	s := r.Current()
	if s == nil || limits == nil {
		return
	}
	var topics []string
	seen := map[string]bool{}
	for _, ev := range s.Events {
		if ev.Loaded() != nil && !seen[ev.Entry.Topic] && (!unknown || ev.maxRecord.Load() == 0) {
			seen[ev.Entry.Topic] = true
			topics = append(topics, ev.Entry.Topic)
		}
	}
	if len(topics) == 0 {
		return
	}
	got, err := limits(ctx, topics)
	if err != nil {
		r.log.Warn("record limits unknown; relying on the broker", "topics", len(topics)-len(got), "err", err)
	}
	for _, ev := range s.Events {
		if n, ok := got[ev.Entry.Topic]; ok && ev.Loaded() != nil {
			ev.maxRecord.Store(n)
		}
	}
}

// loaded counts the snapshot's events whose converter is built.
func (s *Snapshot) loaded() int {
	n := 0
	for _, ev := range s.Events {
		if ev.Loaded() != nil {
			n++
		}
	}
	return n
}

// loadedGauge is evctl_gateway_registry_events_loaded, counted over the current snapshot when
// scraped (events load one by one on their first request, in any snapshot still serving one).
func (r *Registry) loadedGauge() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "evctl_gateway_registry_events_loaded",
		Help: "Events of the registry in use whose descriptors are loaded and converter built (on the event's first request, or at a reload that changed it while in use).",
	}, func() float64 {
		if s := r.Current(); s != nil {
			return float64(s.loaded())
		}
		return 0
	})
}

// EventIDs lists the snapshot's events, sorted.
func (s *Snapshot) EventIDs() []string {
	out := make([]string, 0, len(s.Events))
	for id := range s.Events {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
