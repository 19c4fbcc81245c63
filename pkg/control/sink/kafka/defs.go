package kafka

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
)

// TopicDef is the kafka_topic kind without a client: each hosted event with a kafka sink wants
// its topic, after its descriptor.
type TopicDef struct{}

// Kind returns "kafka_topic".
func (TopicDef) Kind() string { return KindTopic }

// DependsOn implements sink.Def.
func (TopicDef) DependsOn() []string { return []string{descriptor.Kind} }

// Desire implements sink.Def.
func (TopicDef) Desire(t *sink.Target) ([]sink.Desired, error) {
	var out []sink.Desired
	for _, ev := range t.Events {
		k := ev.Sinks.Kafka
		if k == nil {
			continue
		}
		spec, err := NewTopicSpec(int32(k.Partitions), k.Retention, k.Configs)
		if err != nil {
			return nil, fmt.Errorf("plan: %s: %w", ev.ID(), err)
		}
		out = append(out, sink.NewDesired(ev.ID(), KindTopic, t.Project.TopicName(t.Env, ev), ev.Stage, spec, []string{descriptor.Ref(ev.ID())}))
	}
	return out, nil
}

// TopicPrefix is the part of the topic template before the first per-event placeholder, with the
// environment filled in: "local." for "{env}.{domain}.{event}.v{major}".
func TopicPrefix(t *sink.Target) string {
	p := strings.ReplaceAll(t.Project.Naming.Topic, "{env}", t.Env)
	if i := strings.IndexByte(p, '{'); i >= 0 {
		p = p[:i]
	}
	return p
}

// ListManaged implements sink.Lister: the live topics under the environment's topic naming.
// A template with no fixed prefix lists nothing (every topic of the cluster would match).
func (s *TopicSink) ListManaged(ctx context.Context, t *sink.Target) ([]string, error) {
	prefix := TopicPrefix(t)
	if prefix == "" {
		return nil, nil
	}
	names, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	// Dead-letter topics, the counters' and the consumers' topics are their own kinds
	// (pkg/control/sink/dlq, counters, consumers), which list them.
	return slices.DeleteFunc(names, func(n string) bool {
		return IsDLQ(n) || IsCountersTopic(t.Env, n) || IsConsumersTopic(t.Env, n) || deliversTo(t, n)
	}), nil
}

// deliversTo reports whether topic is a consumer's deliver.kafka topic (the consumer kind's).
func deliversTo(t *sink.Target, topic string) bool {
	for _, c := range t.Consumers {
		if c.Deliver.Kafka != nil && c.Deliver.Kafka.Topic == topic {
			return true
		}
	}
	return false
}

// ConsumersPrefix starts the name of every dead-letter topic of env's consumers
// (SPEC-dataplane section 11): "<env>.consumers.".
func ConsumersPrefix(env string) string { return env + ".consumers." }

// IsConsumersTopic reports whether topic is named as a consumer's dead-letter topic of env,
// "<env>.consumers.<name>.dlq". Consumer names have no dots, so the dead-letter topic of an
// event in a domain named "consumers" ("<env>.consumers.<event>.v1.dlq") is not one.
func IsConsumersTopic(env, topic string) bool {
	rest, ok := strings.CutPrefix(topic, ConsumersPrefix(env))
	name, ok2 := strings.CutSuffix(rest, dlqSuffix)
	return ok && ok2 && name != "" && !strings.Contains(name, ".")
}

// CountersPrefix starts the name of every topic of env's engagement counters
// (SPEC-dataplane section 12): "<env>.counters.".
func CountersPrefix(env string) string { return env + ".counters." }

// IsCountersTopic reports whether topic is named as one of env's counters topics: a changelog
// "<env>.counters.<name>.changelog", a repartition topic "<env>.counters.<name>.repartition" or
// the milestones topic "<env>.counters.milestones".
func IsCountersTopic(env, topic string) bool {
	rest, ok := strings.CutPrefix(topic, CountersPrefix(env))
	if !ok {
		return false
	}
	for _, suffix := range []string{".changelog", ".repartition"} {
		if strings.HasSuffix(rest, suffix) && rest != suffix {
			return true
		}
	}
	return rest == "milestones"
}

// dlqSuffix ends the name of a topic's dead-letter topic (SPEC-dataplane section 8).
const dlqSuffix = ".dlq"

// DLQName is the dead-letter topic of topic: "<topic>.dlq".
func DLQName(topic string) string { return topic + dlqSuffix }

// IsDLQ reports whether topic is named as a dead-letter topic.
func IsDLQ(topic string) bool { return strings.HasSuffix(topic, dlqSuffix) }

// ACLDef is the kafka_acl kind without a client: each hosted event's topic wants the entries of
// its producer and consumer teams, after its descriptor, its topic and those teams' users.
type ACLDef struct{}

// Kind returns "kafka_acl".
func (ACLDef) Kind() string { return KindACL }

// DependsOn implements sink.Def.
func (ACLDef) DependsOn() []string { return []string{descriptor.Kind, KindTopic, KindUser} }

// Desire implements sink.Def.
func (ACLDef) Desire(t *sink.Target) ([]sink.Desired, error) {
	var out []sink.Desired
	for _, ev := range t.Events {
		if ev.Sinks.Kafka == nil {
			continue
		}
		topic := t.Project.TopicName(t.Env, ev)
		deps := []string{descriptor.Ref(ev.ID()), sink.Ref(KindTopic, topic)}
		readers := t.ReaderTeams(ev) // access.consumers and the teams of consumers/*.yaml reading it
		for _, team := range slices.Concat(ev.Access.Producers, readers) {
			if ref := sink.Ref(KindUser, UserName(team)); !slices.Contains(deps, ref) {
				deps = append(deps, ref)
			}
		}
		spec := NewACLSpec(topic, ev.Access.Producers, readers)
		out = append(out, sink.NewDesired(ev.ID(), KindACL, topic, ev.Stage, spec, deps))
	}
	return out, nil
}

// Own implements sink.Owner: a topic's ACL entries are ours when the topic is. Its live shape
// also holds the consumers' group entries, which other topics share, so "it exists" is no sign
// of another owner (without this a new event for an existing consumer team is blocked).
func (ACLDef) Own(c *sink.Change, o sink.Ownership) {
	sink.OwnRecorded(c, o.Recorded || o.Owns(KindTopic, c.Name))
}

// UserDef is the kafka_user kind without a client: every team that produces or consumes a
// hosted event with a kafka sink wants its user. A user belongs to a team, not an event: its
// event is "team/<name>" in plans and state.
type UserDef struct{}

// Kind returns "kafka_user".
func (UserDef) Kind() string { return KindUser }

// DependsOn implements sink.Def: users need nothing first.
func (UserDef) DependsOn() []string { return nil }

// Desire implements sink.Def.
func (UserDef) Desire(t *sink.Target) ([]sink.Desired, error) {
	teams := map[string]bool{}
	for _, ev := range t.Events {
		if ev.Sinks.Kafka == nil {
			continue
		}
		for _, team := range slices.Concat(ev.Access.Producers, t.ReaderTeams(ev)) {
			teams[team] = true
		}
	}
	names := make([]string, 0, len(teams))
	for team := range teams {
		names = append(names, team)
	}
	sort.Strings(names)
	out := make([]sink.Desired, 0, len(names))
	for _, team := range names {
		out = append(out, sink.NewDesired("team/"+team, KindUser, UserName(team), "", NewUserSpec(team), nil))
	}
	return out, nil
}

// Own implements sink.Owner. A user is a team's, not a repository's: every contracts repo on the
// cluster whose events name the team wants the same user, so an existing user this repository
// did not create is used as it is (a noop, never changed, deleted or recorded) rather than
// blocked, which would skip every ACL that names the team. A user this repository created but no
// longer needs is kept while it still holds ACLs on topics this repository does not own: another
// contracts repository (or a person) grants the team access, and deleting it would cut it off.
func (UserDef) Own(c *sink.Change, o sink.Ownership) {
	if !o.Recorded && c.Action == sink.Noop && c.Observed != nil && c.Observed.Exists {
		reason := fmt.Sprintf("user %s exists and was not created by this repository (made by hand or by another contracts repo); users are per team, so it is used as is and never changed or deleted here", c.Name)
		if c.Reason != "" {
			reason += "; " + c.Reason
		}
		c.Reason = reason
		return
	}
	sink.OwnRecorded(c, o.Recorded)
	if c.Action != sink.Delete || c.Observed == nil {
		return
	}
	st, _ := c.Observed.Spec.(UserState)
	var others []string
	for _, t := range st.ACLTopics {
		// A dead-letter topic (and its ACLs) is ours when its source topic is.
		if !o.Owns(KindTopic, t) && !(IsDLQ(t) && o.Owns(KindTopic, strings.TrimSuffix(t, dlqSuffix))) {
			others = append(others, t)
		}
	}
	if len(others) == 0 {
		return
	}
	list := strings.Join(others[:min(3, len(others))], ", ")
	if len(others) > 3 {
		list += fmt.Sprintf(" and %d more", len(others)-3)
	}
	c.Action = sink.Skipped
	c.Reason = fmt.Sprintf("user %s still has ACLs on topics this repository does not manage (%s): another contracts repo or a person grants the team access, so it is kept", c.Name, list)
}

// Names implements sink.Namer: an event with a kafka sink has its topic.
func (TopicDef) Names(p *config.Project, env string, ev *contract.Event) []string {
	if ev.Sinks.Kafka == nil {
		return nil
	}
	return []string{p.TopicName(sink.EnvOrPlaceholder(env), ev)}
}

// Names implements sink.Namer: an event's ACL entries are named by its topic.
func (ACLDef) Names(p *config.Project, env string, ev *contract.Event) []string {
	return TopicDef{}.Names(p, env, ev)
}
