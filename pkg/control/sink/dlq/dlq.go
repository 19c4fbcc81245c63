package dlq

import (
	"fmt"
	"slices"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

// Kind is the kind name of dead-letter topics in plans and state.
const Kind = "kafka_dlq_topic"

// DefaultRetention is a dead-letter topic's retention when its source topic leaves retention to
// the broker: stated rather than inherited, so a cluster default of hours cannot drop dead
// letters before anyone looks at them.
const DefaultRetention = "7d"

// Spec is the wanted (Desired.Spec) shape of a dead-letter topic: the topic and its access.
type Spec struct {
	Topic kafka.TopicSpec `json:"topic"`
	ACL   kafka.ACLSpec   `json:"acl"`
}

// Def is the kafka_dlq_topic kind without a client.
type Def struct{}

// Kind returns "kafka_dlq_topic".
func (Def) Kind() string { return Kind }

// DependsOn implements sink.Def: the event's descriptor, its source topic first, and the users
// its ACLs name.
func (Def) DependsOn() []string { return []string{descriptor.Kind, kafka.KindTopic, kafka.KindUser} }

// Desire implements sink.Def: each hosted event with a kafka sink wants "<topic>.dlq".
func (Def) Desire(t *sink.Target) ([]sink.Desired, error) {
	var out []sink.Desired
	for _, ev := range t.Events {
		k := ev.Sinks.Kafka
		if k == nil {
			continue
		}
		// Readers include the teams of consumers/*.yaml reading the event: their route workers
		// dead-letter undecodable records here.
		spec, err := NewSpec(int32(k.Partitions), k.Retention, k.Configs, ev.Access.Producers, t.ReaderTeams(ev))
		if err != nil {
			return nil, fmt.Errorf("plan: %s: dead-letter topic: %w", ev.ID(), err)
		}
		src := t.Project.TopicName(t.Env, ev)
		deps := []string{descriptor.Ref(ev.ID()), sink.Ref(kafka.KindTopic, src)}
		for _, team := range slices.Concat(spec.ACL.Producers, spec.ACL.Consumers) {
			if ref := sink.Ref(kafka.KindUser, kafka.UserName(team)); !slices.Contains(deps, ref) {
				deps = append(deps, ref)
			}
		}
		spec.ACL.Topic = kafka.DLQName(src)
		out = append(out, sink.NewDesired(ev.ID(), Kind, spec.ACL.Topic, ev.Stage, spec, deps))
	}
	return out, nil
}

// NewSpec shapes a dead-letter topic from its source's sinks.kafka block and access. The topic
// has the source's partitions (so dead letters can keep the source's keys' partitioning) and its
// retention (retention or configs["retention.ms"]; DefaultRetention when neither is set), and
// always cleanup.policy delete: dead letters are not keyed state, and a compacted source must
// not compact them away. Every team that reads the source may write (workers dead-letter with
// the consuming team's credentials) and read it (to replay); the source's producers may write it,
// as they may write the source.
func NewSpec(partitions int32, retention string, configs map[string]string, producers, consumers []string) (Spec, error) {
	cfg := map[string]string{"cleanup.policy": "delete"}
	if ms, ok := configs[kafka.RetentionKey]; ok {
		cfg[kafka.RetentionKey] = ms
	} else if retention == "" {
		retention = DefaultRetention
	}
	ts, err := kafka.NewTopicSpec(partitions, retention, cfg)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Topic: ts, ACL: kafka.NewACLSpec("", slices.Concat(producers, consumers), consumers)}, nil
}

// Names implements sink.Namer: an event with a kafka sink has its dead-letter topic.
func (Def) Names(p *config.Project, env string, ev *contract.Event) []string {
	if ev.Sinks.Kafka == nil {
		return nil
	}
	return []string{kafka.DLQName(p.TopicName(sink.EnvOrPlaceholder(env), ev))}
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
	return Spec{}, fmt.Errorf("spec is %T, want dlq.Spec", v)
}
