package dlq

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

// Live is the live shape (Observed.Spec) of a dead-letter topic: its topic's and its ACLs'
// observations, as the kafka package's sinks make them.
type Live struct {
	Topic sink.Observed
	ACL   sink.Observed
}

// Sink is the kafka_dlq_topic sink. It implements sink.Sink, sink.BatchApplier and sink.Lister.
type Sink struct {
	Def
	topics *kafka.TopicSink
	acls   *kafka.ACLSink
}

var (
	_ sink.Sink         = (*Sink)(nil)
	_ sink.BatchApplier = (*Sink)(nil)
	_ sink.Lister       = (*Sink)(nil)
)

// New returns the dead-letter topic sink over c. teams are the teams evctl manages, as for
// kafka.NewACLSink.
func New(c *kafka.Client, teams ...string) *Sink {
	return &Sink{topics: kafka.NewTopicSink(c), acls: kafka.NewACLSink(c, teams...)}
}

// halves splits a wanted dead-letter topic into the kafka_topic and kafka_acl resources the
// kafka package's sinks take. An Absent one (Spec nil) splits into two Absent halves.
func halves(d sink.Desired) (topic, acl sink.Desired, err error) {
	topic = sink.Desired{Event: d.Event, Kind: kafka.KindTopic, Name: d.Name, Stage: d.Stage, Absent: d.Absent}
	acl = sink.Desired{Event: d.Event, Kind: kafka.KindACL, Name: d.Name, Stage: d.Stage, Absent: d.Absent}
	if d.Absent {
		return topic, acl, nil
	}
	spec, err := specOf(d.Spec)
	if err != nil {
		return topic, acl, err
	}
	spec.ACL.Topic = d.Name
	topic.Spec, acl.Spec = spec.Topic, spec.ACL
	return topic, acl, nil
}

// Observe reads every wanted dead-letter topic with the topic sink's batched requests and their
// ACLs with one DescribeACLs request. A topic that could not be read has Observed.Err set.
func (s *Sink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	if len(want) == 0 {
		return nil, nil
	}
	tw := make([]sink.Desired, 0, len(want))
	aw := make([]sink.Desired, 0, len(want))
	for _, d := range want {
		t, a, _ := halves(d) // a bad spec is Diff's error
		tw, aw = append(tw, t), append(aw, a)
	}
	to, err := s.topics.Observe(ctx, tw)
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	ao, err := s.acls.Observe(ctx, aw)
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	acls := make(map[string]sink.Observed, len(ao))
	for _, o := range ao {
		acls[o.Name] = o
	}
	out := make([]sink.Observed, 0, len(to))
	for _, t := range to {
		out = append(out, sink.Observed{Kind: Kind, Name: t.Name, Exists: t.Exists, Err: t.Err,
			Spec: Live{Topic: t, ACL: acls[t.Name]}})
	}
	return out, nil
}

// Diff is pure: the topic's diff (through the topic sink) followed by its ACLs' ("acl.*"). The
// action is the topic's (create, update, delete, blocked), or update (delete for an Absent
// one) when only the ACLs differ. The error is for a spec of the wrong type or a wanted topic
// with no observation.
func (s *Sink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	diff := func(ch *sink.Change) error {
		tc, ac, err := s.split(*ch)
		if err != nil {
			return err
		}
		ch.Diff = append(append(ch.Diff, tc.Diff...), ac.Diff...)
		switch {
		case tc.Action == sink.Blocked || ac.Action == sink.Blocked:
			ch.Action, ch.Reason = sink.Blocked, joinReasons(tc.Reason, ac.Reason)
		case tc.Action != sink.Noop:
			ch.Action, ch.Reason = tc.Action, tc.Reason
		case ac.Action == sink.Delete:
			ch.Action, ch.Reason = sink.Delete, ac.Reason
		case ac.Action != sink.Noop:
			ch.Action = sink.Update
		}
		return nil
	}
	return sink.DiffEach(sink.Differ{Kind: Kind, What: "dlq: diff", Absent: diff, Present: diff}, want, have)
}

// split is c as a kafka_topic change and a kafka_acl change, diffed by the kafka sinks from c's
// Desired and Observed (a change with no observation is of a topic that did not exist).
func (s *Sink) split(c sink.Change) (topic, acl sink.Change, err error) {
	if c.Desired == nil {
		return topic, acl, errors.New("change carries no desired spec")
	}
	td, ad, err := halves(*c.Desired)
	if err != nil {
		return topic, acl, err
	}
	live := Live{Topic: sink.Observed{Kind: kafka.KindTopic, Name: c.Name}, ACL: sink.Observed{Kind: kafka.KindACL, Name: c.Name}}
	if c.Observed != nil {
		l, ok := c.Observed.Spec.(Live)
		if !ok {
			return topic, acl, fmt.Errorf("observed spec is %T, want dlq.Live", c.Observed.Spec)
		}
		live = l
	}
	tcs, err := s.topics.Diff([]sink.Desired{td}, []sink.Observed{live.Topic})
	if err != nil {
		return topic, acl, err
	}
	acs, err := s.acls.Diff([]sink.Desired{ad}, []sink.Observed{live.ACL})
	if err != nil {
		return topic, acl, err
	}
	return tcs[0], acs[0], nil
}

// Apply executes one change; it is ApplyBatch of one.
func (s *Sink) Apply(ctx context.Context, c sink.Change) error {
	return s.ApplyBatch(ctx, []sink.Change{c})[0]
}

// ApplyBatch applies the topics of every change in one batch of the topic sink, then the ACLs
// of those whose topic succeeded in one batch of the ACL sink, so a topic is never left
// readable by teams before it exists as wanted. Both halves are idempotent, so the whole is. A
// noop succeeds; replace, blocked and skipped fail.
func (s *Sink) ApplyBatch(ctx context.Context, cs []sink.Change) []error {
	errs := make([]error, len(cs))
	var topics, acls []sink.Change
	var topicIdx, aclIdx []int
	for i, c := range cs {
		switch c.Action {
		case sink.Noop:
			continue
		case sink.Create, sink.Update, sink.Delete:
		default:
			errs[i] = fmt.Errorf("dlq: topic %q: cannot apply action %q", c.Name, c.Action)
			continue
		}
		tc, ac, err := s.split(c)
		if err != nil {
			errs[i] = fmt.Errorf("dlq: %s topic %q: %w", c.Action, c.Name, err)
			continue
		}
		if tc.Action != sink.Noop {
			topics, topicIdx = append(topics, tc), append(topicIdx, i)
		}
		if ac.Action != sink.Noop {
			acls, aclIdx = append(acls, ac), append(aclIdx, i)
		}
	}
	if len(topics) > 0 {
		for k, err := range s.topics.ApplyBatch(ctx, topics) {
			if err != nil {
				errs[topicIdx[k]] = fmt.Errorf("dlq: %w", err)
			}
		}
	}
	var run []sink.Change
	var runIdx []int
	for k, i := range aclIdx {
		if errs[i] == nil {
			run, runIdx = append(run, acls[k]), append(runIdx, i)
		}
	}
	if len(run) > 0 {
		for k, err := range s.acls.ApplyBatch(ctx, run) {
			if err != nil {
				errs[runIdx[k]] = fmt.Errorf("dlq: %w", err)
			}
		}
	}
	return errs
}

// ListManaged implements sink.Lister: the live dead-letter topics under the environment's topic
// naming (the topic kind lists the others).
func (s *Sink) ListManaged(ctx context.Context, t *sink.Target) ([]string, error) {
	prefix := kafka.TopicPrefix(t)
	if prefix == "" {
		return nil, nil
	}
	names, err := s.topics.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	out := names[:0]
	for _, n := range names {
		if kafka.IsDLQ(n) && !kafka.IsConsumersTopic(t.Env, n) { // the consumers kind lists those
			out = append(out, n)
		}
	}
	return out, nil
}

func joinReasons(rs ...string) string {
	var out []string
	for _, r := range rs {
		if r != "" {
			out = append(out, r)
		}
	}
	return strings.Join(out, "; ")
}
