package counters

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/dlq"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Kind is the kind name of the counters' topics in plans and state.
const Kind = "kafka_counter_topic"

// The evctl-owned milestone contract (SPEC-dataplane 12).
const (
	MilestoneFile    = "evctl/counters/v1/milestone.proto"
	MilestoneMessage = "evctl.counters.v1.Milestone"
	// MilestoneEvent is the ID of the milestone contract in the descriptor index and the
	// evctl-event header of milestone records: what `evctl tail` takes.
	MilestoneEvent = "evctl/counter_milestone"
)

// ChangelogTopic is a counter's compacted changelog topic.
func ChangelogTopic(env, counter string) string { return Prefix(env) + counter + ".changelog" }

// RepartitionTopic is the internal topic a counter's records go through when its key is not the
// source topic's key (Repartitioned).
func RepartitionTopic(env, counter string) string { return Prefix(env) + counter + ".repartition" }

// Repartitioned reports whether counter c of ev needs its repartition topic: the event's topic is
// not keyed by exactly the counter's key, so one key's records spread over its partitions
// (SPEC-dataplane 12).
func Repartitioned(ev *contract.Event, c contract.Counter) bool {
	k := ev.Sinks.Kafka
	return k == nil || len(k.Key) != 1 || k.Key[0] != c.Key
}

// MilestonesTopic is the environment's milestones topic.
func MilestonesTopic(env string) string { return Prefix(env) + "milestones" }

// Prefix starts the name of every counters topic of env (kafka.CountersPrefix).
func Prefix(env string) string { return kafka.CountersPrefix(env) }

// Spec is the wanted (Desired.Spec) shape of a counters topic: the topic and its access, and for
// the milestones topic the contract published in the descriptor index.
type Spec struct {
	dlq.Spec
	Contract *descriptor.Spec `json:"contract,omitempty"`
}

// Def is the kafka_counter_topic kind without a client.
type Def struct{}

// Kind returns "kafka_counter_topic".
func (Def) Kind() string { return Kind }

// DependsOn implements sink.Def: the event's descriptor and source topic first, and the users
// its ACLs name.
func (Def) DependsOn() []string { return []string{descriptor.Kind, kafka.KindTopic, kafka.KindUser} }

// Desire implements sink.Def: a changelog per counter of a hosted event with a kafka sink (the
// count worker reads its source from Kafka; an event without one has nothing to count), and the
// milestones topic when there is any.
//
// Access is least privilege for a count worker run with a consuming team's credentials (as the
// other workers run, SPEC-dataplane 8): the event's consumer teams may write and read its
// counters' changelogs (they can read the source the counts come from, and one of them runs the
// worker); its producers get nothing, as they get no read on the source's derivatives. The
// milestones topic is one per environment (the spec names one), so the consumers of every event
// with a counter may write and read it.
func (Def) Desire(t *sink.Target) ([]sink.Desired, error) {
	var out []sink.Desired
	var writers, deps []string
	var parts int32
	stage := contract.StageStaging
	addDep := func(deps []string, ref string) []string {
		if !slices.Contains(deps, ref) {
			deps = append(deps, ref)
		}
		return deps
	}
	for _, ev := range t.Events {
		k := ev.Sinks.Kafka
		if k == nil || len(ev.Counters) == 0 {
			continue
		}
		src := t.Project.TopicName(t.Env, ev)
		evDeps := []string{descriptor.Ref(ev.ID()), sink.Ref(kafka.KindTopic, src)}
		for _, team := range ev.Access.Consumers {
			evDeps = addDep(evDeps, sink.Ref(kafka.KindUser, kafka.UserName(team)))
		}
		for _, c := range ev.Counters {
			spec, err := NewChangelogSpec(int32(k.Partitions), ev.Access.Consumers)
			if err != nil {
				return nil, fmt.Errorf("plan: %s: counter %s: %w", ev.ID(), c.Name, err)
			}
			spec.ACL.Topic = ChangelogTopic(t.Env, c.Name)
			out = append(out, sink.NewDesired(ev.ID(), Kind, spec.ACL.Topic, ev.Stage, spec, slices.Clone(evDeps)))
			if Repartitioned(ev, c) {
				rs, err := NewRepartitionSpec(int32(k.Partitions), ev.Access.Consumers)
				if err != nil {
					return nil, fmt.Errorf("plan: %s: counter %s: %w", ev.ID(), c.Name, err)
				}
				rs.ACL.Topic = RepartitionTopic(t.Env, c.Name)
				out = append(out, sink.NewDesired(ev.ID(), Kind, rs.ACL.Topic, ev.Stage, rs, slices.Clone(evDeps)))
			}
		}
		writers = append(writers, ev.Access.Consumers...)
		parts = max(parts, int32(k.Partitions))
		if ev.Stage == contract.StageProd {
			stage = contract.StageProd
		}
		for _, d := range evDeps {
			deps = addDep(deps, d)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	ms, err := CompileMilestone(context.Background())
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	topic := MilestonesTopic(t.Env)
	spec, err := NewMilestonesSpec(topic, parts, writers, stage, ms)
	if err != nil {
		return nil, fmt.Errorf("plan: milestones topic: %w", err)
	}
	out = append(out, sink.NewDesired(MilestoneEvent, Kind, topic, stage, spec, deps))
	return out, nil
}

// NewChangelogSpec shapes a changelog: the source's partitions (a key's changelog record lands
// in the partition its source records do), cleanup.policy compact (the latest value per key is
// the state, so nothing is deleted by age); the consumers write and read it. Its ACL topic is
// left for the caller.
func NewChangelogSpec(partitions int32, consumers []string) (Spec, error) {
	ts, err := kafka.NewTopicSpec(partitions, "", map[string]string{"cleanup.policy": "compact"})
	if err != nil {
		return Spec{}, err
	}
	return Spec{Spec: dlq.Spec{Topic: ts, ACL: kafka.NewACLSpec("", consumers, consumers)}}, nil
}

// NewRepartitionSpec shapes a repartition topic: the source's partitions, cleanup.policy delete
// (records are consumed once; the count worker's fences, not the topic, are the state) with the
// broker's retention; the consumers, who run the worker, write and read it. Its ACL topic is
// left for the caller.
func NewRepartitionSpec(partitions int32, consumers []string) (Spec, error) {
	ts, err := kafka.NewTopicSpec(partitions, "", map[string]string{"cleanup.policy": "delete"})
	if err != nil {
		return Spec{}, err
	}
	return Spec{Spec: dlq.Spec{Topic: ts, ACL: kafka.NewACLSpec("", consumers, consumers)}}, nil
}

// NewMilestonesSpec shapes the milestones topic: the most partitions of the sources (0: the
// broker's default), cleanup.policy delete stated (milestones are events, not keyed state: a
// broker default of compact would keep one per key), retention the broker's; writers write and
// read it; and the contract's index entry at stage.
func NewMilestonesSpec(topic string, partitions int32, writers []string, stage string, ms *Milestone) (Spec, error) {
	ts, err := kafka.NewTopicSpec(partitions, "", map[string]string{"cleanup.policy": "delete"})
	if err != nil {
		return Spec{}, err
	}
	return Spec{Spec: dlq.Spec{Topic: ts, ACL: kafka.NewACLSpec(topic, writers, writers)},
		Contract: &descriptor.Spec{Entry: descstore.Entry{Message: MilestoneMessage, Topic: topic, SHA256: ms.SHA256, Stage: stage}, Set: ms.Set}}, nil
}

// Own implements sink.Owner: the "<env>.counters." names are evctl's own (before apply made
// them, the count worker created them itself, as Kafka Streams does its internal topics), so a
// live one is adopted rather than blocked as another repository's.
func (Def) Own(*sink.Change, sink.Ownership) {}

// Names implements sink.Namer: an event's counters' changelogs and repartition topics.
func (Def) Names(_ *config.Project, env string, ev *contract.Event) []string {
	if ev.Sinks.Kafka == nil {
		return nil
	}
	var out []string
	for _, c := range ev.Counters {
		out = append(out, ChangelogTopic(sink.EnvOrPlaceholder(env), c.Name))
		if Repartitioned(ev, c) {
			out = append(out, RepartitionTopic(sink.EnvOrPlaceholder(env), c.Name))
		}
	}
	return out
}

func specOf(v any) (Spec, error) {
	switch s := v.(type) {
	case Spec:
		return s, nil
	case *Spec:
		if s != nil {
			return *s, nil
		}
	}
	return Spec{}, fmt.Errorf("spec is %T, want counters.Spec", v)
}

// Milestone is the compiled milestone contract: its descriptor set (as published to the
// descriptor store), the set's sha256 (the evctl-schema header of milestone records) and the
// message.
type Milestone struct {
	Set     []byte
	SHA256  string
	Message protoreflect.MessageDescriptor
}

// CompileMilestone compiles the embedded milestone.proto. The set is deterministic, so apply
// publishes the set whose sha256 every count worker of the same build stamps on its records.
func CompileMilestone(ctx context.Context) (*Milestone, error) {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(path string) (io.ReadCloser, error) {
			src, ok := evoptions.Source(path)
			if !ok {
				return nil, fmt.Errorf("not embedded: %s", path)
			}
			return io.NopCloser(bytes.NewReader(src)), nil
		},
	})}
	files, err := c.Compile(ctx, MilestoneFile)
	if err != nil {
		return nil, fmt.Errorf("counters: compile %s: %w", MilestoneFile, err)
	}
	fd := files[0]
	set := &descriptorpb.FileDescriptorSet{}
	for i := 0; i < fd.Imports().Len(); i++ {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd.Imports().Get(i).FileDescriptor))
	}
	set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("counters: marshal milestone set: %w", err)
	}
	sum := sha256.Sum256(b)
	md := fd.Messages().ByName("Milestone")
	if md == nil {
		return nil, errors.New("counters: milestone.proto has no message Milestone")
	}
	return &Milestone{Set: b, SHA256: hex.EncodeToString(sum[:]), Message: md}, nil
}
