package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/data/convert"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// retryFailedLoad is how long a failed load is remembered: requests for the event meanwhile get
// the same answer at once instead of each fetching the set again, and a set repaired in the store
// (or a store back up) is picked up after it.
const retryFailedLoad = 5 * time.Second

// Event is one publishable event of a registry generation: what index.json says of it, and, from
// the first request for it on, its converter (Loaded). Loading is lazy because a repository of
// 10,000 events would otherwise fetch and build 10,000 sets before the gateway is ready, and hold
// them all whether or not anything is ever sent to most of them. A loaded event may be evicted
// again when the events in use outgrow the registry's budget (budget.go); its next request
// loads it anew.
type Event struct {
	ID    string // "feed/video_played"
	Entry descstore.Entry
	// maxRecord is the largest record the event's topic accepts (0 until known), refreshed
	// by the poller from the topic's max.message.bytes once the event is loaded.
	maxRecord atomic.Int64

	reg    *Registry
	loaded atomic.Pointer[Loaded]
	// retired: a reload replaced or removed the event; what it loads is no longer counted.
	retired atomic.Bool
	mu      sync.Mutex // one load at a time; guards failed and failedAt
	failed  error
	// failedAt is when failed was recorded.
	failedAt time.Time
}

// Loaded is an event whose set was fetched and whose converter was built. It holds the
// converter's plan but not the descriptors it was compiled from (they weigh about three times
// as much): the binary gRPC path, the one reader of descriptors, builds them on its first use
// (Descriptor). Its fields are read-only.
type Loaded struct {
	*Event
	Plan    *convert.Plan
	keys    []wireField // top-level fields that make the record key, in order
	eventID wireField   // the event_id field (num 0: none)
	// headers are the record headers, the same for every record of the event.
	headers []kgo.RecordHeader
	// accepted is the event's evctl_gateway_accepted_total counter, resolved once.
	accepted prometheus.Counter

	// used is the budget's clock bit: set by each request, cleared by the eviction sweep.
	used atomic.Bool
	// cost is what the registry's budget counts for the event (Plan.Size and the descriptor
	// once built); changed only under the budget's lock.
	cost int64
	// desc is the message descriptor, once the binary path asked for it.
	desc   atomic.Pointer[protoreflect.MessageDescriptor]
	descMu sync.Mutex
}

// wireField is what the record key and the event_id of a response need of a top-level field.
type wireField struct {
	num  protowire.Number
	kind protoreflect.Kind
}

// Loaded returns the event's converter, or nil while it is not loaded (never asked for, or
// evicted).
func (ev *Event) Loaded() *Loaded { return ev.loaded.Load() }

// Load returns the event's converter, fetching its set and building it the first time (and
// after an eviction). Concurrent callers share one load. A failure is returned to every caller
// for the next retryFailedLoad, then the load is tried again.
func (ev *Event) Load(ctx context.Context) (*Loaded, error) {
	if l := ev.loaded.Load(); l != nil {
		if !l.used.Load() { // a read is cheaper than a write on a line every core shares
			l.used.Store(true)
		}
		return l, nil
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if l := ev.loaded.Load(); l != nil {
		return l, nil
	}
	if ev.failed != nil && time.Since(ev.failedAt) < retryFailedLoad {
		return nil, ev.failed
	}
	l, err := ev.reg.build(ctx, ev)
	if err != nil {
		if ctx.Err() == nil { // a caller giving up says nothing of the set
			ev.failed, ev.failedAt = err, time.Now()
		}
		return nil, err
	}
	ev.failed = nil
	l.used.Store(true)
	ev.loaded.Store(l)
	ev.reg.budget.add(l)
	ev.reg.metrics.loads.Inc()
	return l, nil
}

// Descriptor returns the event's message descriptor, fetching and building its set again the
// first time it is asked for (the binary gRPC path only: JSON needs the plan alone). It is
// kept from then on, and counted in the registry's budget.
func (l *Loaded) Descriptor(ctx context.Context) (protoreflect.MessageDescriptor, error) {
	if md := l.desc.Load(); md != nil {
		return *md, nil
	}
	if md := l.Plan.Descriptor(); md != nil { // a plan on the slow path keeps it
		return md, nil
	}
	l.descMu.Lock()
	defer l.descMu.Unlock()
	if md := l.desc.Load(); md != nil {
		return *md, nil
	}
	md, err := l.reg.sets.Message(ctx, l.Entry.SHA256, l.Entry.Message)
	if err != nil {
		return nil, fmt.Errorf("gateway: registry: %s: %w", l.ID, err)
	}
	l.desc.Store(&md)
	l.reg.budget.grow(l, descriptorCost(l.Plan))
	return md, nil
}

// descriptorCost estimates what a plan's descriptors weigh: about three times the plan
// (measured with a heap profile of the synthetic repository's events, scripts/synth).
func descriptorCost(p *convert.Plan) int64 { return 3 * p.Size() }

// build fetches ev's set (shared with concurrent builds of the same set) and compiles its
// converter.
func (r *Registry) build(ctx context.Context, ev *Event) (*Loaded, error) {
	id, e := ev.ID, ev.Entry
	md, err := r.sets.Message(ctx, e.SHA256, e.Message)
	if err != nil {
		return nil, fmt.Errorf("gateway: registry: %s: %w", id, err)
	}
	opts := r.opts
	opts.Lean = true
	plan, err := convert.Compile(md, opts)
	if err != nil {
		return nil, fmt.Errorf("gateway: registry: %s: %w", id, err)
	}
	l := &Loaded{Event: ev, Plan: plan,
		headers: []kgo.RecordHeader{
			{Key: descstore.HeaderEvent, Value: []byte(id)},
			{Key: descstore.HeaderSchema, Value: []byte(e.SHA256)},
			{Key: descstore.HeaderContentType, Value: []byte(descstore.ContentType)},
		},
		accepted: r.metrics.accepted.WithLabelValues(id),
		cost:     loadedOverhead + plan.Size(),
	}
	if fd := md.Fields().ByName("event_id"); fd != nil {
		l.eventID = wireField{num: fd.Number(), kind: fd.Kind()}
	}
	if plan.Descriptor() != nil {
		l.cost += descriptorCost(plan)
	}
	if r.keys != nil {
		for _, k := range r.keys(id) {
			fd := md.Fields().ByName(protoreflect.Name(k))
			if fd == nil || fd.IsList() || fd.IsMap() || fd.Message() != nil {
				return nil, fmt.Errorf("gateway: registry: %s: key field %q is not a top-level scalar field", id, k)
			}
			l.keys = append(l.keys, wireField{num: fd.Number(), kind: fd.Kind()})
		}
	}
	return l, nil
}

// loadedOverhead estimates a Loaded's own structures beside its plan: the struct, its headers
// and its counter's label set.
const loadedOverhead = 1 << 10
