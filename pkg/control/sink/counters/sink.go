package counters

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/dlq"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Live is the live shape (Observed.Spec) of a counters topic: the topic-and-ACL observation the
// dlq sink makes, and the milestone contract's index entry (nil when not published or not
// wanted).
type Live struct {
	Kafka    sink.Observed
	Contract *descstore.Entry
}

// Sink is the kafka_counter_topic sink. It implements sink.Sink, sink.BatchApplier and
// sink.Lister.
type Sink struct {
	Def
	kafka  *dlq.Sink // a topic with its ACLs, kind relabelled
	topics *kafka.TopicSink
	store  blob.Store
}

var (
	_ sink.Sink         = (*Sink)(nil)
	_ sink.BatchApplier = (*Sink)(nil)
	_ sink.Lister       = (*Sink)(nil)
	_ sink.Owner        = (*Sink)(nil)
)

// New returns the counters sink over c, publishing the milestone contract to store (the
// environment's descriptor store). teams are the teams evctl manages, as for kafka.NewACLSink.
func New(c *kafka.Client, store blob.Store, teams ...string) *Sink {
	return &Sink{kafka: dlq.New(c, teams...), topics: kafka.NewTopicSink(c), store: store}
}

// inner is d as the dlq sink's resource: the same topic and ACLs.
func inner(d sink.Desired) (sink.Desired, *Spec, error) {
	out := d
	out.Kind = dlq.Kind
	if d.Absent {
		out.Spec = nil
		return out, nil, nil
	}
	spec, err := specOf(d.Spec)
	if err != nil {
		return out, nil, err
	}
	spec.ACL.Topic = d.Name
	out.Spec = spec.Spec
	return out, &spec, nil
}

// Observe reads the topics and their ACLs through the dlq sink, and the descriptor index once
// when a wanted resource carries the milestone contract.
func (s *Sink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	if len(want) == 0 {
		return nil, nil
	}
	iw := make([]sink.Desired, 0, len(want))
	contract := false
	for _, d := range want {
		in, spec, _ := inner(d) // a bad spec is Diff's error
		iw = append(iw, in)
		contract = contract || (spec != nil && spec.Contract != nil)
	}
	obs, err := s.kafka.Observe(ctx, iw)
	if err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	var idx *descstore.Index
	var idxErr error
	if contract {
		if s.store == nil {
			idxErr = errors.New("counters: the descriptor store is not available for the milestone contract")
		} else if idx, _, idxErr = descstore.ReadIndex(ctx, s.store); idxErr != nil {
			idxErr = fmt.Errorf("counters: %w", idxErr)
		}
	}
	out := make([]sink.Observed, 0, len(obs))
	for _, o := range obs {
		live := Live{Kafka: o}
		ob := sink.Observed{Kind: Kind, Name: o.Name, Exists: o.Exists, Err: o.Err, Managed: o.Managed}
		if o.Name == milestonesOf(want, o.Name) {
			if idxErr != nil && ob.Err == nil {
				ob.Err = idxErr
			} else if idx != nil {
				if e, ok := idx.Events[MilestoneEvent]; ok {
					live.Contract = &e
				}
			}
		}
		ob.Spec = live
		out = append(out, ob)
	}
	return out, nil
}

// milestonesOf returns name when the wanted resource of that name carries the contract.
func milestonesOf(want []sink.Desired, name string) string {
	for _, d := range want {
		if d.Name == name && !d.Absent {
			if sp, err := specOf(d.Spec); err == nil && sp.Contract != nil {
				return name
			}
		}
	}
	return ""
}

// Diff is pure: the topic's and ACLs' diff (the dlq sink's), then the contract's ("contract.*"),
// which makes an update when it is all that differs.
func (s *Sink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	diff := func(ch *sink.Change) error {
		ic, spec, err := s.split(*ch)
		if err != nil {
			return err
		}
		ch.Action, ch.Reason, ch.Diff = ic.Action, ic.Reason, append(ch.Diff, ic.Diff...)
		if spec == nil || spec.Contract == nil {
			return nil
		}
		var have descstore.Entry
		if l, ok := ch.Observed.Spec.(Live); ok && l.Contract != nil {
			have = *l.Contract
		}
		w := spec.Contract.Entry
		for _, f := range []struct{ path, from, to string }{
			{"contract.sha256", have.SHA256, w.SHA256}, {"contract.message", have.Message, w.Message},
			{"contract.topic", have.Topic, w.Topic}, {"contract.stage", have.Stage, w.Stage},
		} {
			if f.from != f.to {
				ch.Diff = append(ch.Diff, sink.DiffEntry{Path: f.path, From: f.from, To: f.to})
				if ch.Action == sink.Noop {
					ch.Action = sink.Update
				}
			}
		}
		return nil
	}
	return sink.DiffEach(sink.Differ{Kind: Kind, What: "counters: diff", Absent: diff, Present: diff}, want, have)
}

// split is c as the dlq sink's change, diffed by it.
func (s *Sink) split(c sink.Change) (sink.Change, *Spec, error) {
	if c.Desired == nil {
		return sink.Change{}, nil, errors.New("change carries no desired spec")
	}
	in, spec, err := inner(*c.Desired)
	if err != nil {
		return sink.Change{}, nil, err
	}
	live := sink.Observed{Kind: dlq.Kind, Name: c.Name}
	if c.Observed != nil {
		l, ok := c.Observed.Spec.(Live)
		if !ok && c.Observed.Exists {
			return sink.Change{}, nil, fmt.Errorf("observed spec is %T, want counters.Live", c.Observed.Spec)
		}
		if ok {
			live = l.Kafka
		}
	}
	cs, err := s.kafka.Diff([]sink.Desired{in}, []sink.Observed{live})
	if err != nil {
		return sink.Change{}, nil, err
	}
	return cs[0], spec, nil
}

// Apply executes one change; it is ApplyBatch of one.
func (s *Sink) Apply(ctx context.Context, c sink.Change) error {
	return s.ApplyBatch(ctx, []sink.Change{c})[0]
}

// ApplyBatch applies the topics and ACLs in one batch of the dlq sink, then publishes the
// milestone contract (its set, then the index entry, compare-and-swap) for a milestones topic
// that now exists, so the index never names a contract whose topic is missing. A deleted
// milestones topic takes its index entry with it (the set stays: sets are immutable). A noop
// succeeds; replace, blocked and skipped fail.
func (s *Sink) ApplyBatch(ctx context.Context, cs []sink.Change) []error {
	errs := make([]error, len(cs))
	var kc []sink.Change
	var kIdx []int
	for i, c := range cs {
		switch c.Action {
		case sink.Noop:
			continue
		case sink.Create, sink.Update, sink.Delete:
		default:
			errs[i] = fmt.Errorf("counters: topic %q: cannot apply action %q", c.Name, c.Action)
			continue
		}
		ic, _, err := s.split(c)
		if err != nil {
			errs[i] = fmt.Errorf("counters: %s topic %q: %w", c.Action, c.Name, err)
			continue
		}
		if ic.Action != sink.Noop {
			kc, kIdx = append(kc, ic), append(kIdx, i)
		}
	}
	if len(kc) > 0 {
		for k, err := range s.kafka.ApplyBatch(ctx, kc) {
			if err != nil {
				errs[kIdx[k]] = fmt.Errorf("counters: %w", err)
			}
		}
	}
	for i, c := range cs {
		if errs[i] != nil || c.Action == sink.Noop || c.Desired == nil {
			continue
		}
		if err := s.publish(ctx, c); err != nil {
			errs[i] = err
		}
	}
	return errs
}

// publish writes or removes the milestone contract's index entry for c, when c carries it (or,
// deleted, is the milestones topic).
func (s *Sink) publish(ctx context.Context, c sink.Change) error {
	var spec *Spec
	if !c.Desired.Absent {
		sp, err := specOf(c.Desired.Spec)
		if err != nil {
			return fmt.Errorf("counters: %w", err)
		}
		spec = &sp
	}
	if c.Action != sink.Delete && (spec == nil || spec.Contract == nil) {
		return nil
	}
	if c.Action == sink.Delete && (spec != nil || !IsMilestones(c.Name)) {
		return nil
	}
	if s.store == nil {
		return errors.New("counters: the descriptor store is not available for the milestone contract")
	}
	if c.Action != sink.Delete {
		if err := descstore.WriteSets(ctx, s.store, map[string][]byte{spec.Contract.SHA256: spec.Contract.Set})[spec.Contract.SHA256]; err != nil {
			return fmt.Errorf("counters: milestone contract: %w", err)
		}
	}
	err := descstore.UpdateIndex(ctx, s.store, func(idx *descstore.Index) {
		if c.Action == sink.Delete {
			delete(idx.Events, MilestoneEvent)
		} else {
			idx.Events[MilestoneEvent] = spec.Contract.Entry
		}
	})
	if err != nil {
		return fmt.Errorf("counters: milestone contract: %w", err)
	}
	return nil
}

// IsMilestones reports whether topic is named as an environment's milestones topic.
func IsMilestones(topic string) bool {
	return len(topic) > len(milestonesSuffix) && strings.HasSuffix(topic, milestonesSuffix)
}

const milestonesSuffix = ".counters.milestones"

// ListManaged implements sink.Lister: the live counters topics of the environment.
func (s *Sink) ListManaged(ctx context.Context, t *sink.Target) ([]string, error) {
	names, err := s.topics.List(ctx, Prefix(t.Env))
	if err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	return slices.DeleteFunc(names, func(n string) bool { return !kafka.IsCountersTopic(t.Env, n) }), nil
}
