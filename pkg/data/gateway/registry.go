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
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/data/convert"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Event is one publishable event of a registry generation.
type Event struct {
	ID      string // "feed/video_played"
	Entry   descstore.Entry
	Plan    *convert.Plan
	keys    []protoreflect.FieldDescriptor // top-level fields that make the record key, in order
	eventID protoreflect.FieldDescriptor   // the event_id field, if any
	// headers are the record headers, the same for every record of the event (read-only).
	headers []kgo.RecordHeader
	// accepted is the event's evctl_gateway_accepted_total counter, resolved once.
	accepted prometheus.Counter
	// maxRecord is the largest record the event's topic accepts (0 until known), refreshed
	// by the poller from the topic's max.message.bytes.
	maxRecord atomic.Int64
}

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
	// files builds the events' sets sharing the imports they have in common (well-known
	// types, protovalidate's rules, evctl's options): with 10,000 events, one copy of them
	// instead of 10,000.
	files *descstore.Files
}

func newRegistry(store blob.Store, opts convert.Options, keys func(string) []string, log *slog.Logger, m *metrics) *Registry {
	return &Registry{store: store, opts: opts, keys: keys, log: log, metrics: m, files: descstore.NewFiles()}
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

// Reload reads index.json and every set it names, compiles a new snapshot and swaps it in. An
// unchanged index is a no-op. On any error the current snapshot stays and the error is
// returned (and kept for /readyz).
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
	idx, gen, err := descstore.ReadIndex(ctx, r.store)
	if err != nil {
		return fmt.Errorf("gateway: registry: %w", err)
	}
	prev := r.cur.Load()
	if prev != nil && gen != "" && gen == r.lastGen {
		return nil
	}
	next := &Snapshot{Events: make(map[string]*Event, len(idx.Events)), LoadedAt: time.Now()}
	ids := idx.EventIDs()
	var todo []string
	for _, id := range ids {
		e := idx.Events[id]
		if prev != nil {
			if old, ok := prev.Events[id]; ok && old.Entry == e {
				next.Events[id] = old
				continue
			}
		}
		todo = append(todo, id)
	}
	// Only new and changed events are read and built, on every core: 10,000 of them at start.
	built := make([]*Event, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, id := range todo {
		g.Go(func() error {
			ev, err := r.compile(gctx, id, idx.Events[id])
			built[i] = ev
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, id := range todo {
		next.Events[id] = built[i]
	}
	r.gen++
	next.Generation = r.gen
	r.lastGen = gen
	r.cur.Store(next)
	r.metrics.generation.Set(float64(r.gen))
	r.metrics.events.Set(float64(len(next.Events)))
	r.log.Info("registry loaded", "generation", r.gen, "events", len(next.Events))
	return nil
}

func (r *Registry) compile(ctx context.Context, id string, e descstore.Entry) (*Event, error) {
	b, err := descstore.ReadSet(ctx, r.store, e.SHA256)
	if err != nil {
		return nil, fmt.Errorf("gateway: registry: %s: %w", id, err)
	}
	md, err := r.files.Message(b, e.Message)
	if err != nil {
		return nil, fmt.Errorf("gateway: registry: %s: set %s: %w", id, e.SHA256, err)
	}
	plan, err := convert.Compile(md, r.opts)
	if err != nil {
		return nil, fmt.Errorf("gateway: registry: %s: %w", id, err)
	}
	ev := &Event{ID: id, Entry: e, Plan: plan, eventID: md.Fields().ByName("event_id"),
		headers: []kgo.RecordHeader{
			{Key: descstore.HeaderEvent, Value: []byte(id)},
			{Key: descstore.HeaderSchema, Value: []byte(e.SHA256)},
			{Key: descstore.HeaderContentType, Value: []byte(descstore.ContentType)},
		},
		accepted: r.metrics.accepted.WithLabelValues(id),
	}
	if r.keys != nil {
		for _, k := range r.keys(id) {
			fd := md.Fields().ByName(protoreflect.Name(k))
			if fd == nil || fd.IsList() || fd.IsMap() || fd.Message() != nil {
				return nil, fmt.Errorf("gateway: registry: %s: key field %q is not a top-level scalar field", id, k)
			}
			ev.keys = append(ev.keys, fd)
		}
	}
	return ev, nil
}

// Poll reloads every interval until ctx ends, and after each reload refreshes the record
// limits with limits (nil: none). It returns when ctx is done.
func (r *Registry) Poll(ctx context.Context, interval time.Duration, limits func(ctx context.Context, topic string) (int64, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	r.refreshLimits(ctx, limits)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.Reload(ctx) // logged and kept for /readyz by Reload
			r.refreshLimits(ctx, limits)
		}
	}
}

// refreshLimits reads each event's topic limit. A failure keeps the last known limit (the
// broker still refuses an oversized record, and that answer is mapped to a 413 too).
func (r *Registry) refreshLimits(ctx context.Context, limits func(ctx context.Context, topic string) (int64, error)) {
	s := r.Current()
	if s == nil || limits == nil {
		return
	}
	for _, id := range s.EventIDs() {
		ev := s.Events[id]
		n, err := limits(ctx, ev.Entry.Topic)
		if err != nil {
			r.log.Warn("record limit unknown; relying on the broker", "event", id, "err", err)
			continue
		}
		ev.maxRecord.Store(n)
	}
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
