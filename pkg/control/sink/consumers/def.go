package consumers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/dlq"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Kind is the kind name of a consumer's resources in plans and state.
const Kind = "consumer"

// defPrefix starts the name of a definition resource. A "/" never appears in a Kafka topic
// name, so the name alone tells a definition from a topic, also for a removed one (Absent).
const defPrefix = "consumers/"

// DefName is the name of a consumer's definition resource: "consumers/<name>".
func DefName(name string) string { return defPrefix + name }

// EventOf is the event column of a consumer's resources: "consumer/<name>".
func EventOf(name string) string { return "consumer/" + name }

func isDef(resource string) bool { return strings.HasPrefix(resource, defPrefix) }

// Spec is the wanted (Desired.Spec) shape of one consumer resource: a topic with its ACLs, or
// the definition.
type Spec struct {
	Topic      *dlq.Spec       `json:"topic,omitempty"`
	Definition *DefinitionSpec `json:"definition,omitempty"`
}

// DefinitionSpec is a consumer's definition as published and its group's access.
type DefinitionSpec struct {
	Team   string                 `json:"team"`
	Group  string                 `json:"group"`
	SHA256 string                 `json:"sha256"`
	Def    *descstore.ConsumerDef `json:"def"`
}

// Def is the consumer kind without a client.
type Def struct{}

// Kind returns "consumer".
func (Def) Kind() string { return Kind }

// DependsOn implements sink.Def: the events' descriptors, topics and ACLs (a definition names
// topics its team can read), and the team's user.
func (Def) DependsOn() []string {
	return []string{descriptor.Kind, kafka.KindTopic, kafka.KindACL, kafka.KindUser}
}

// Desire implements sink.Def: per consumer that lists at least one hosted event with a kafka
// sink, its dead-letter topic, its deliver.kafka topic, and its definition. The definition
// routes only the hosted events (Topics); its stage is prod when any of them is, so a change
// to a prod consumer's topics is never a silent replace.
func (Def) Desire(t *sink.Target) ([]sink.Desired, error) {
	var out []sink.Desired
	for _, c := range t.Consumers {
		at, parts, stage := Place(t.Project, t.Env, t.HostedEvent, c)
		if len(at.Topics) == 0 {
			continue
		}
		deps := []string{sink.Ref(kafka.KindUser, kafka.UserName(c.Owner.Team))}
		for _, id := range sortedKeys(at.Topics) {
			deps = append(deps, descriptor.Ref(id), sink.Ref(kafka.KindTopic, at.Topics[id]), sink.Ref(kafka.KindACL, at.Topics[id]))
		}
		team := []string{c.Owner.Team}
		ev := EventOf(c.Name)
		dlqName := at.DLQ
		ds, err := dlq.NewSpec(parts, "", nil, team, team)
		if err != nil {
			return nil, fmt.Errorf("plan: consumer %s: dead-letter topic: %w", c.Name, err)
		}
		ds.ACL.Topic = dlqName
		out = append(out, sink.NewDesired(ev, Kind, dlqName, stage, Spec{Topic: &ds}, slices.Clone(deps)))
		if k := c.Deliver.Kafka; k != nil {
			ts, err := TargetSpec(k.Topic, parts, c.Owner.Team)
			if err != nil {
				return nil, fmt.Errorf("plan: consumer %s: deliver.kafka topic: %w", c.Name, err)
			}
			out = append(out, sink.NewDesired(ev, Kind, k.Topic, stage, Spec{Topic: &ts}, slices.Clone(deps)))
		}
		spec, err := NewDefinitionSpec(c.Definition(at))
		if err != nil {
			return nil, fmt.Errorf("plan: consumer %s: %w", c.Name, err)
		}
		out = append(out, sink.NewDesired(ev, Kind, DefName(c.Name), stage, Spec{Definition: spec}, deps))
	}
	return out, nil
}

// Place is where c runs in env: the topics of its events that env hosts with a kafka sink
// (hosted returns an event env hosts, or nil), its group, its dead-letter topic and its
// deliver.kafka topic; the most partitions of those topics; and its stage, prod when any of
// those events is. No topics: env runs nothing of c.
func Place(p *config.Project, env string, hosted func(id string) *contract.Event, c *consumer.Consumer) (at consumer.Placement, partitions int32, stage string) {
	at = consumer.Placement{Topics: map[string]string{}, Group: consumer.Group(env, c.Name), DLQ: consumer.DLQTopic(env, c.Name)}
	if c.Deliver.Kafka != nil {
		at.KafkaTopic = c.Deliver.Kafka.Topic
	}
	stage = contract.StageStaging
	for _, id := range c.Events {
		ev := hosted(id)
		if ev == nil || ev.Sinks.Kafka == nil {
			continue
		}
		at.Topics[id] = p.TopicName(env, ev)
		partitions = max(partitions, int32(ev.Sinks.Kafka.Partitions))
		if ev.Stage == contract.StageProd {
			stage = contract.StageProd
		}
	}
	return at, partitions, stage
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TargetSpec shapes a deliver.kafka topic: the most partitions of the consumer's source topics
// (records keep their event's key, so a key stays in one partition), the broker's retention,
// cleanup.policy delete stated (the records are deliveries, not keyed state: a broker default
// of compact would keep one per key), and the consumer's team as its producer (the route
// worker runs with the team's credentials) and reader.
func TargetSpec(topic string, partitions int32, team string) (dlq.Spec, error) {
	ts, err := kafka.NewTopicSpec(partitions, "", map[string]string{"cleanup.policy": "delete"})
	if err != nil {
		return dlq.Spec{}, err
	}
	return dlq.Spec{Topic: ts, ACL: kafka.NewACLSpec(topic, []string{team}, []string{team})}, nil
}

// NewDefinitionSpec is the definition resource of d: its content address and group access.
func NewDefinitionSpec(d *descstore.ConsumerDef) (*DefinitionSpec, error) {
	_, sha, err := descstore.EncodeConsumerDef(d)
	if err != nil {
		return nil, err
	}
	return &DefinitionSpec{Team: d.Team, Group: d.Group, SHA256: sha, Def: d}, nil
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
	return Spec{}, fmt.Errorf("spec is %T, want consumers.Spec", v)
}

// Names are the resources of c in env ("{env}" when env is ""), in apply order: its
// dead-letter topic, its deliver.kafka topic, its definition. describe lists them.
func Names(env string, c *consumer.Consumer) []string {
	env = sink.EnvOrPlaceholder(env)
	out := []string{consumer.DLQTopic(env, c.Name)}
	if c.Deliver.Kafka != nil {
		out = append(out, c.Deliver.Kafka.Topic)
	}
	return append(out, DefName(c.Name))
}
