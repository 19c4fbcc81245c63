package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
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
// them all whether or not anything is ever sent to most of them.
type Event struct {
	ID    string // "feed/video_played"
	Entry descstore.Entry
	// maxRecord is the largest record the event's topic accepts (0 until known), refreshed
	// by the poller from the topic's max.message.bytes once the event is loaded.
	maxRecord atomic.Int64

	reg    *Registry
	loaded atomic.Pointer[Loaded]
	mu     sync.Mutex // one load at a time; guards failed and failedAt
	failed error
	// failedAt is when failed was recorded.
	failedAt time.Time
}

// Loaded is an event whose set was fetched and whose converter was built. Its fields are
// read-only.
type Loaded struct {
	*Event
	Plan    *convert.Plan
	keys    []protoreflect.FieldDescriptor // top-level fields that make the record key, in order
	eventID protoreflect.FieldDescriptor   // the event_id field, if any
	// headers are the record headers, the same for every record of the event.
	headers []kgo.RecordHeader
	// accepted is the event's evctl_gateway_accepted_total counter, resolved once.
	accepted prometheus.Counter
}

// Loaded returns the event's converter, or nil while it was never asked for.
func (ev *Event) Loaded() *Loaded { return ev.loaded.Load() }

// Load returns the event's converter, fetching its set and building it the first time.
// Concurrent callers share one load. A failure is returned to every caller for the next
// retryFailedLoad, then the load is tried again.
func (ev *Event) Load(ctx context.Context) (*Loaded, error) {
	if l := ev.loaded.Load(); l != nil {
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
	ev.loaded.Store(l)
	return l, nil
}

// build fetches ev's set (shared with concurrent builds of the same set) and compiles its
// converter.
func (r *Registry) build(ctx context.Context, ev *Event) (*Loaded, error) {
	id, e := ev.ID, ev.Entry
	md, err := r.sets.Message(ctx, e.SHA256, e.Message)
	if err != nil {
		return nil, fmt.Errorf("gateway: registry: %s: %w", id, err)
	}
	plan, err := convert.Compile(md, r.opts)
	if err != nil {
		return nil, fmt.Errorf("gateway: registry: %s: %w", id, err)
	}
	l := &Loaded{Event: ev, Plan: plan, eventID: md.Fields().ByName("event_id"),
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
			l.keys = append(l.keys, fd)
		}
	}
	return l, nil
}
