package count

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink/counters"
	"github.com/evctl/evctl/pkg/data/counterstore"
	"github.com/evctl/evctl/pkg/data/worker"
)

// ChangelogTopic is a counter's compacted changelog topic.
func ChangelogTopic(env, counter string) string { return counters.ChangelogTopic(env, counter) }

// MilestonesTopic is the environment's milestones topic.
func MilestonesTopic(env string) string { return counters.MilestonesTopic(env) }

// EventCounters are the counters of one event.
type EventCounters struct {
	Event    string // "<domain>/<event>"
	Counters []contract.Counter
	// Repartition names the counters whose key is not the source topic's key (Select fills it
	// from the event's kafka key): they are counted through their repartition topic.
	Repartition []string
}

// Config configures a Handler.
type Config struct {
	Env string
	// Group is the worker's consumer group; fences are scoped by it.
	Group  string
	Events []EventCounters
	Store  counterstore.Store
	// Kafka are the client options (seed brokers, SASL) for the changelog and milestone
	// producer and for reading milestones back during recovery.
	Kafka     []kgo.Opt
	Milestone *MilestoneSchema
	// Now is the clock windows are cut by (processing time); nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// IdleFlush bounds how long handled records whose windows are all still open wait before
	// the fence moves past them (default 5s).
	IdleFlush time.Duration
}

// Stats are a handler's running totals.
type Stats struct {
	Events      int64 // records that added to at least one counter (each counter counted once)
	KeyWrites   int64 // increments written: one per key per window
	StoreWrites int64 // store transactions (one per partition per flush)
	Milestones  int64 // milestone records produced
}

// Handler is `evctl count` as callbacks on pkg/data/worker. A worker never calls it
// concurrently; Stats and Value may be read from other goroutines.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	specs  []Spec
	byName map[string]int
	// byEvent maps an event ID to its counters and their indexes into specs.
	byEvent map[string]eventCounters
	extract map[protoreflect.MessageDescriptor]*extractor
	parts   map[worker.TopicPartition]*partState
	values  map[WKey]int64 // known store values, for choosing tiers
	prod    *kgo.Client
	adm     *kadm.Client

	lastFlush time.Time
	// nowMs is the clock as Handle reads it: once every clockEvery records, and at the first
	// record after each FlushDue, Flush or Assigned (so at least once per polled batch).
	nowMs  int64
	clockN int
	// beforeEmit, when set (tests only), runs between the store write and the produce; an error
	// stands for a crash there.
	beforeEmit func() error
	scratch    []raw
	hits       []hit
	// repTopic is, by counter index, its repartition topic ("" when it is counted from its
	// source); byRepTopic maps a repartition topic back to its counter (repartition.go).
	repTopic   []string
	byRepTopic map[string]int
	rep        repartitioner

	events, keyWrites, storeWrites, milestones atomic.Int64
}

type eventCounters struct {
	counters []contract.Counter
	index    []int
}

type partState struct {
	eng   *Partition
	fence int64 // the store's fence for this partition (-1: none)
	last  int64 // last offset handled
	// events and writes are the partition's running totals (see outbox).
	events, writes int64
	// src is, for a repartition topic's partition, the highest source offset counted from each
	// source partition (repartition.go).
	src map[int32]int64
}

// clockEvery: reading the clock for every record was 4% of the worker's CPU; a window is at
// least seconds long, and clockEvery records take tens of microseconds.
const clockEvery = 64

// maxCachedValues bounds the value cache; past it the cache starts again (values are re-read
// from the store for windows opening after that).
const maxCachedValues = 2_000_000

// New builds a handler and its output producer.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Milestone == nil || cfg.Group == "" || cfg.Env == "" {
		return nil, errors.New("count: config needs env, group, store and the milestone schema")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleFlush <= 0 {
		cfg.IdleFlush = 5 * time.Second
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, byName: map[string]int{}, byEvent: map[string]eventCounters{},
		extract: map[protoreflect.MessageDescriptor]*extractor{}, parts: map[worker.TopicPartition]*partState{},
		values: map[WKey]int64{}, lastFlush: cfg.Now(), byRepTopic: map[string]int{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, ev := range cfg.Events {
		ec := eventCounters{}
		for _, c := range ev.Counters {
			if _, dup := h.byName[c.Name]; dup {
				return nil, fmt.Errorf("count: counter %q is declared twice", c.Name)
			}
			s, err := SpecOf(c)
			if err != nil {
				return nil, fmt.Errorf("count: counter %q: %w", c.Name, err)
			}
			h.byName[c.Name] = len(h.specs)
			topic := ""
			if slices.Contains(ev.Repartition, c.Name) {
				topic = RepartitionTopic(cfg.Env, c.Name)
				h.byRepTopic[topic] = len(h.specs)
			}
			h.repTopic = append(h.repTopic, topic)
			ec.counters = append(ec.counters, c)
			ec.index = append(ec.index, len(h.specs))
			h.specs = append(h.specs, s)
		}
		h.byEvent[ev.Event] = ec
	}
	opts := append(append([]kgo.Opt{}, cfg.Kafka...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond))
	prod, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("count: kafka producer: %w", err)
	}
	h.prod, h.adm = prod, kadm.NewClient(prod)
	return h, nil
}

// Close closes the producer.
func (h *Handler) Close() { h.prod.Close() }

// Stats returns the running totals.
func (h *Handler) Stats() Stats {
	return Stats{Events: h.events.Load(), KeyWrites: h.keyWrites.Load(), StoreWrites: h.storeWrites.Load(), Milestones: h.milestones.Load()}
}

// Value implements Values from the cache.
func (h *Handler) Value(k WKey) (int64, bool) { v, ok := h.values[k]; return v, ok }

func (h *Handler) scope(tp worker.TopicPartition) string {
	return h.cfg.Group + "/" + tp.Topic + "/" + strconv.Itoa(int(tp.Partition))
}

// Assigned reads each partition's fence: the open windows come back from its outbox, the
// records after the fence are read again (the returned positions), and the last write's
// changelog and milestone records are redone (milestones already produced are not).
func (h *Handler) Assigned(ctx context.Context, parts []worker.TopicPartition) (map[worker.TopicPartition]int64, error) {
	h.clockN = 0
	pos := map[worker.TopicPartition]int64{}
	var redo []counterstore.Change
	marks := map[int32]int64{}
	var at int64
	fresh := map[worker.TopicPartition]*partState{}
	for _, tp := range parts {
		f, err := h.cfg.Store.Fence(ctx, h.scope(tp))
		if err != nil {
			return nil, err
		}
		ob, err := decodeOutbox(f.Outbox)
		if err != nil {
			return nil, err
		}
		st := &partState{eng: NewPartition(h.specs), fence: f.Offset, last: f.Offset, events: ob.Events, writes: ob.Writes, src: ob.Src}
		if st.src == nil {
			st.src = map[int32]int64{}
		}
		st.eng.Restore(ob.Open)
		fresh[tp] = st
		if f.Offset >= 0 {
			pos[tp] = f.Offset + 1
		}
		cs, ok := ob.changes(f)
		if !ok {
			h.log.Warn("the store's last write for this partition cannot be redone (its values do not match its outbox)", "scope", h.scope(tp))
		}
		redo = append(redo, cs...)
		for p, m := range ob.Marks {
			if old, ok := marks[p]; !ok || m < old {
				marks[p] = m
			}
		}
		at = max(at, ob.At)
	}
	if len(redo) > 0 {
		if err := h.emit(ctx, redo, time.UnixMilli(at), marks); err != nil {
			return nil, err
		}
	}
	for tp, st := range fresh {
		h.parts[tp] = st
	}
	return pos, nil
}

// Handle adds one record to its partition's open windows. Records at or before the fence were
// written already and are skipped.
func (h *Handler) Handle(ctx context.Context, rec *worker.Record) error {
	st := h.parts[rec.TP()]
	if st == nil {
		return fmt.Errorf("count: partition %s is not assigned", rec.TP())
	}
	if rec.Offset <= st.fence {
		return nil
	}
	repOf, repartitioned := h.byRepTopic[rec.Topic]
	var srcPart int32
	var srcOff int64
	if repartitioned {
		var err error
		if srcPart, srcOff, err = source(rec); err != nil {
			return &worker.RecordError{Reason: err.Error()}
		}
		if last, seen := st.src[srcPart]; seen && srcOff <= last {
			st.last = rec.Offset // counted before: a source partition re-produced it
			return nil
		}
	}
	ec, ok := h.byEvent[rec.Schema.Event]
	if !ok {
		return &worker.RecordError{Reason: fmt.Sprintf("count: event %q has no counters", rec.Schema.Event)}
	}
	x := h.extract[rec.Schema.Message]
	if x == nil {
		var err error
		if x, err = newExtractor(rec.Schema.Message, ec.counters, ec.index); err != nil {
			return &worker.RecordError{Reason: err.Error()}
		}
		h.extract[rec.Schema.Message] = x
	}
	if cap(h.scratch) < len(x.fields) {
		h.scratch = make([]raw, len(x.fields))
	}
	var err error
	h.hits, err = x.hits(rec.Value, h.scratch[:len(x.fields)], h.hits[:0])
	if err != nil {
		return &worker.RecordError{Reason: fmt.Sprintf("count: value is not a valid %s: %v", rec.Schema.Message.FullName(), err)}
	}
	if h.clockN%clockEvery == 0 {
		h.nowMs = h.cfg.Now().UnixMilli()
	}
	h.clockN++
	now := h.nowMs
	counted := int64(0)
	for _, hi := range h.hits {
		switch {
		case repartitioned && hi.counter != repOf:
			continue // another counter's: its own repartition topic or the source has it
		case !repartitioned && h.repTopic[hi.counter] != "":
			h.forward(ctx, rec, hi.counter, hi)
			continue
		}
		if hi.isBytes {
			st.eng.AddBytes(hi.counter, hi.keyB, hi.delta, now, h)
		} else {
			st.eng.Add(WKey{Counter: hi.counter, Key: hi.key}, hi.delta, now, h)
		}
		counted++
	}
	if repartitioned {
		st.src[srcPart] = srcOff
	}
	h.events.Add(counted)
	st.events += counted
	st.last = rec.Offset
	return nil
}

// FlushDue is true when a window may have closed, or records have waited IdleFlush.
func (h *Handler) FlushDue(now time.Time) bool {
	h.clockN = 0
	ms := now.UnixMilli()
	idle := now.Sub(h.lastFlush) >= h.cfg.IdleFlush
	for _, st := range h.parts {
		if d := st.eng.Due(); d != 0 && d <= ms {
			return true
		}
		if idle && st.last > st.fence {
			return true
		}
	}
	return false
}

// Flush writes every closed window, one store transaction per partition with its fence, then
// the changelog records and the milestones crossed. It always makes what was handled durable:
// open windows travel in the outbox, so a final flush needs nothing more.
func (h *Handler) Flush(ctx context.Context, _ bool) (bool, error) {
	h.clockN = 0
	// Forwarded records first: a source partition's fence must not pass one that is not in its
	// repartition topic.
	if err := h.settleForwarded(ctx); err != nil {
		h.Reset()
		return false, &worker.RewindError{Reason: err.Error()}
	}
	if err := h.resolve(ctx); err != nil {
		return false, err
	}
	marks, err := h.marks(ctx)
	if err != nil {
		return false, err
	}
	at := h.cfg.Now()
	now := at.UnixMilli()
	var all []counterstore.Change
	for tp, st := range h.parts {
		closed := st.eng.Close(now)
		if len(closed) == 0 && st.last == st.fence {
			continue
		}
		ob := outbox{At: now, Open: st.eng.Snapshot(), Marks: marks, Events: st.events, Writes: st.writes + int64(len(closed)), Src: st.src}
		incs := make([]counterstore.Increment, len(closed))
		for i, c := range closed {
			name := h.specs[c.Key.Counter].Name
			incs[i] = counterstore.Increment{Counter: name, Key: c.Key.Key, Delta: c.Delta}
			ob.Closed = append(ob.Closed, closedWindow{Counter: name, Key: c.Key.Key, Delta: c.Delta})
		}
		box, err := json.Marshal(ob)
		if err != nil {
			return false, fmt.Errorf("count: encode outbox: %w", err)
		}
		res, err := h.cfg.Store.Apply(ctx, counterstore.Batch{Scope: h.scope(tp), Prev: st.fence, Offset: st.last, Increments: incs, Outbox: box})
		if err != nil {
			// The outcome is unknown: start again from what the store holds.
			h.Reset()
			return false, &worker.RewindError{Reason: err.Error()}
		}
		if !res.Applied {
			h.Reset()
			return false, &worker.RewindError{Reason: fmt.Sprintf("the fence of %s moved under this worker (another worker wrote it)", tp)}
		}
		h.storeWrites.Add(1)
		h.keyWrites.Add(int64(len(incs)))
		st.fence = st.last
		st.writes = ob.Writes
		for _, c := range res.Changes {
			h.remember(WKey{Counter: h.byName[c.Counter], Key: c.Key}, c.New)
		}
		all = append(all, res.Changes...)
	}
	h.lastFlush = at
	if len(all) > 0 {
		err := error(nil)
		if h.beforeEmit != nil {
			err = h.beforeEmit()
		}
		if err == nil {
			err = h.emit(ctx, all, at, nil)
		}
		if err != nil {
			// The store has the write; its records are redone, without duplicates, from the
			// outbox when the partitions are read again.
			h.Reset()
			return false, &worker.RewindError{Reason: err.Error()}
		}
	}
	return true, nil
}

func (h *Handler) remember(k WKey, v int64) {
	if len(h.values) >= maxCachedValues {
		clear(h.values)
	}
	h.values[k] = v
}

// resolve reads the values of keys whose windows wait for them, one read per counter.
func (h *Handler) resolve(ctx context.Context) error {
	type waiting struct {
		part *partState
		key  WKey
	}
	byCounter := map[int][]waiting{}
	for _, st := range h.parts {
		for _, k := range st.eng.Unresolved() {
			if v, ok := h.values[k]; ok {
				st.eng.Resolve(k, v)
				continue
			}
			byCounter[k.Counter] = append(byCounter[k.Counter], waiting{st, k})
		}
	}
	for c, ws := range byCounter {
		keys := make([]string, len(ws))
		for i, w := range ws {
			keys[i] = w.key.Key
		}
		vals, err := h.cfg.Store.Get(ctx, h.specs[c].Name, keys)
		if err != nil {
			// Put them back: they are resolved at the next flush.
			for _, w := range ws {
				w.part.eng.unresolved = append(w.part.eng.unresolved, w.key)
			}
			return err
		}
		for i, w := range ws {
			h.remember(w.key, vals[i])
			w.part.eng.Resolve(w.key, vals[i])
		}
	}
	return nil
}

// marks returns the milestones topic's end offsets.
func (h *Handler) marks(ctx context.Context) (map[int32]int64, error) {
	ends, err := h.adm.ListEndOffsets(ctx, MilestonesTopic(h.cfg.Env))
	if err != nil {
		return nil, fmt.Errorf("count: end offsets of %s: %w", MilestonesTopic(h.cfg.Env), err)
	}
	out := map[int32]int64{}
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
			return
		}
		out[o.Partition] = o.Offset
	})
	if lerr != nil {
		return nil, fmt.Errorf("count: end offsets of %s: %w", MilestonesTopic(h.cfg.Env), lerr)
	}
	return out, nil
}

// Revoked forgets partitions that left (after their final flush).
func (h *Handler) Revoked(_ context.Context, parts []worker.TopicPartition) {
	for _, tp := range parts {
		delete(h.parts, tp)
	}
}

// Reset drops every partition's open windows; Assigned restores them from the store.
func (h *Handler) Reset() {
	for tp := range h.parts {
		delete(h.parts, tp)
	}
}

var _ worker.Handler = (*Handler)(nil)
