package describe

import (
	"context"
	"fmt"
	"sort"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink/consumers"
	"github.com/evctl/evctl/pkg/discovery/discover"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// ConsumerReport is everything describe knows about one consumers/<name>.yaml; its JSON form is
// a stable shape: the list fields of discover.ConsumerSummary plus the template, the retry
// policy with its defaults, its resources and, with an environment, their status, the
// published definition and the consumer group's lag (null or empty without one).
type ConsumerReport struct {
	discover.ConsumerSummary
	Transform string `json:"transform"`
	Retry     Retry  `json:"retry"`
	// Group and DLQ are named for Env ("{env}" when there is none).
	Group     string `json:"group"`
	DLQ       string `json:"dlq"`
	Resources []Sink `json:"resources"`
	Env       string `json:"env"`
	// Hosted lists the consumer's events Env routes (it hosts them, with a kafka sink).
	Hosted    []string   `json:"hosted_events"`
	Published *Published `json:"published"`
	Groups    []Group    `json:"consumer_groups"`
	Errors    []string   `json:"errors"`
}

// Retry is the consumer's retry policy with defaults filled in.
type Retry struct {
	MaxAttempts int    `json:"max_attempts"`
	Backoff     string `json:"backoff"`
	MaxBackoff  string `json:"max_backoff"`
}

// Published is the consumer's entry in the environment's consumers/index.json.
type Published struct {
	SHA256 string `json:"sha256"` // "" when not published
	// Current is whether it is the definition the repository wants (else apply publishes it).
	Current bool `json:"current"`
}

// Consumer fills the repository facts of c for env ("" for none): the events are the
// repository's, to know which of them env hosts.
func Consumer(p *config.Project, events []*contract.Event, c *consumer.Consumer, env string) *ConsumerReport {
	r := &ConsumerReport{ConsumerSummary: discover.SummarizeConsumer(c), Transform: c.Transform, Env: env,
		Group: consumer.Group(placeholder(env), c.Name), DLQ: consumer.DLQTopic(placeholder(env), c.Name),
		Hosted: []string{}, Groups: []Group{}, Errors: []string{}}
	r.Retry.MaxAttempts = c.Retry.Attempts()
	if d, err := c.Retry.BackoffDuration(); err == nil {
		r.Retry.Backoff = d.String()
	}
	if d, err := c.Retry.MaxBackoffDuration(); err == nil {
		r.Retry.MaxBackoff = d.String()
	}
	for _, n := range consumers.Names(env, c) {
		r.Resources = append(r.Resources, Sink{Kind: consumers.Kind, Name: n})
	}
	if env != "" {
		if e, err := p.Env(env); err == nil {
			at, _, _ := consumers.Place(p, env, hostedIn(e, events), c)
			for id := range at.Topics {
				r.Hosted = append(r.Hosted, id)
			}
			sort.Strings(r.Hosted)
		}
	}
	return r
}

func placeholder(env string) string {
	if env == "" {
		return "{env}"
	}
	return env
}

// hostedIn returns the lookup of the events env hosts.
func hostedIn(e config.Environment, events []*contract.Event) func(string) *contract.Event {
	return func(id string) *contract.Event {
		for _, ev := range events {
			if ev.ID() == id && e.Hosts(ev.Stage) {
				return ev
			}
		}
		return nil
	}
}

// ConsumerLive are the environment's systems a consumer's live facts come from.
type ConsumerLive struct {
	Live
	// Descriptors is the environment's descriptor store; nil when it could not be opened.
	Descriptors blob.Store
}

// AddLive fills the consumer's live facts: its resources' status from state, its published
// definition (and whether it is the repository's), and its group's lag. What cannot be read
// is recorded in r.Errors; the only error returned is ctx's.
func (r *ConsumerReport) AddLive(ctx context.Context, p *config.Project, events []*contract.Event, c *consumer.Consumer, l ConsumerLive) error {
	tmp := &Report{Event: consumers.EventOf(c.Name), Env: r.Env, Sinks: r.Resources}
	tmp.addStatus(ctx, l.State)
	r.Resources, r.Errors = tmp.Sinks, append(r.Errors, tmp.Errors...)
	if l.Descriptors != nil {
		idx, _, err := descstore.ReadConsumerIndex(ctx, l.Descriptors)
		if err != nil {
			r.Errors = append(r.Errors, err.Error())
		} else {
			r.Published = &Published{}
			if e, ok := idx.Consumers[c.Name]; ok {
				r.Published.SHA256 = e.SHA256
				if env, err := p.Env(r.Env); err == nil {
					at, _, _ := consumers.Place(p, r.Env, hostedIn(env, events), c)
					if _, sha, err := descstore.EncodeConsumerDef(c.Definition(at)); err == nil {
						r.Published.Current = sha == e.SHA256
					}
				}
			}
		}
	}
	if l.Admin == nil {
		reason := "not reachable"
		if l.KafkaErr != nil {
			reason = l.KafkaErr.Error()
		}
		r.Errors = append(r.Errors, "kafka: consumer group: "+reason)
		return ctx.Err()
	}
	lags, err := l.Admin.Lag(ctx, r.Group)
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("kafka: consumer group %s: %v", r.Group, err))
		return ctx.Err()
	}
	for _, gl := range lags.Sorted() {
		if gl.Error() != nil {
			continue // no such group yet: nothing has run
		}
		g := Group{Group: gl.Group, State: gl.State, Members: len(gl.Members), Partitions: []PartitionLag{}}
		for topic, parts := range gl.Lag {
			for p, ml := range parts {
				pl := PartitionLag{Topic: topic, Partition: p, Committed: ml.Commit.At, End: ml.End.Offset, Lag: ml.Lag}
				if ml.Err != nil {
					pl.Error = ml.Err.Error()
				}
				if ml.Lag > 0 {
					g.Lag += ml.Lag
				}
				g.Partitions = append(g.Partitions, pl)
			}
		}
		sort.Slice(g.Partitions, func(i, j int) bool {
			a, b := g.Partitions[i], g.Partitions[j]
			return a.Topic < b.Topic || (a.Topic == b.Topic && a.Partition < b.Partition)
		})
		r.Groups = append(r.Groups, g)
	}
	return ctx.Err()
}
