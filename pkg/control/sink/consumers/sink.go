package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/dlq"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Live is the live shape (Observed.Spec) of a consumer resource: for a topic, the dlq sink's
// observation; for a definition, its index entry (nil when not published) and the managed
// principals allowed to READ its group.
type Live struct {
	Topic *sink.Observed           `json:"-"`
	Entry *descstore.ConsumerEntry `json:"entry,omitempty"`
	// Def is the published definition Entry names (nil when it could not be read: the diff
	// then shows only the sha256).
	Def     *descstore.ConsumerDef `json:"-"`
	Readers []string               `json:"readers,omitempty"`
}

// Sink is the consumer sink. It implements sink.Sink, sink.BatchApplier and sink.Lister.
type Sink struct {
	Def
	c      *kafka.Client
	topics *dlq.Sink
	list   *kafka.TopicSink
	store  blob.Store
	env    string
	teams  []string
}

var (
	_ sink.Sink         = (*Sink)(nil)
	_ sink.BatchApplier = (*Sink)(nil)
	_ sink.Lister       = (*Sink)(nil)
)

// New returns the consumer sink of env over c, publishing definitions to store (the
// environment's descriptor store). teams are the teams evctl manages, as for kafka.NewACLSink.
func New(c *kafka.Client, store blob.Store, env string, teams ...string) *Sink {
	return &Sink{c: c, topics: dlq.New(c, teams...), list: kafka.NewTopicSink(c), store: store, env: env, teams: slices.Clone(teams)}
}

// asTopic is d as the dlq sink's resource.
func asTopic(d sink.Desired) (sink.Desired, error) {
	out := d
	out.Kind = dlq.Kind
	if d.Absent {
		out.Spec = nil
		return out, nil
	}
	spec, err := specOf(d.Spec)
	if err != nil {
		return out, err
	}
	if spec.Topic == nil {
		return out, fmt.Errorf("consumer topic %s has no topic spec", d.Name)
	}
	ts := *spec.Topic
	ts.ACL.Topic = d.Name
	out.Spec = ts
	return out, nil
}

// definition is d's definition spec (nil for an Absent one).
func definition(d sink.Desired) (*DefinitionSpec, error) {
	if d.Absent {
		return nil, nil
	}
	spec, err := specOf(d.Spec)
	if err != nil {
		return nil, err
	}
	if spec.Definition == nil || spec.Definition.Def == nil {
		return nil, fmt.Errorf("consumer definition %s has no definition spec", d.Name)
	}
	return spec.Definition, nil
}

// Observe reads the topics through the dlq sink, and for definitions the consumers' index
// and the literal group READ entries, once each.
func (s *Sink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	var tw, dw []sink.Desired
	for _, d := range want {
		if isDef(d.Name) {
			dw = append(dw, d)
			continue
		}
		in, _ := asTopic(d) // a bad spec is Diff's error
		tw = append(tw, in)
	}
	byName := map[string]sink.Observed{}
	if len(tw) > 0 {
		obs, err := s.topics.Observe(ctx, tw)
		if err != nil {
			return nil, fmt.Errorf("consumers: %w", err)
		}
		for _, o := range obs {
			byName[o.Name] = sink.Observed{Kind: Kind, Name: o.Name, Exists: o.Exists, Err: o.Err, Managed: o.Managed, Spec: Live{Topic: &o}}
		}
	}
	if len(dw) > 0 {
		if s.store == nil {
			return nil, errors.New("consumers: the descriptor store is not available for the consumer definitions")
		}
		idx, _, err := descstore.ReadConsumerIndex(ctx, s.store)
		if err != nil {
			return nil, fmt.Errorf("consumers: %w", err)
		}
		readers, err := s.groupReaders(ctx, dw)
		if err != nil {
			return nil, err
		}
		for _, d := range dw {
			name := strings.TrimPrefix(d.Name, defPrefix)
			live := Live{Readers: readers[s.groupOf(d)]}
			if e, ok := idx.Consumers[name]; ok {
				live.Entry = &e
				// Read to show what changed field by field; a definition that cannot be read
				// (deleted by hand, corrupt) is replaced by the apply all the same.
				if def, err := descstore.ReadConsumerDef(ctx, s.store, e.SHA256); err == nil {
					live.Def = def
				}
			}
			byName[d.Name] = sink.Observed{Kind: Kind, Name: d.Name, Exists: live.Entry != nil || len(live.Readers) > 0, Spec: live}
		}
	}
	out := make([]sink.Observed, 0, len(want))
	for _, d := range want {
		if o, ok := byName[d.Name]; ok {
			out = append(out, o)
			delete(byName, d.Name)
		}
	}
	return out, nil
}

// groupOf is the consumer group a definition resource grants: evctl's own naming, so a
// removed consumer's group is known without its spec.
func (s *Sink) groupOf(d sink.Desired) string {
	return consumer.Group(s.env, strings.TrimPrefix(d.Name, defPrefix))
}

// groupReaders lists, per consumer group, the managed principals allowed literal READ on it
// from any host, with one DescribeACLs request.
func (s *Sink) groupReaders(ctx context.Context, want []sink.Desired) (map[string][]string, error) {
	managed := map[string]bool{}
	for _, t := range s.teams {
		managed[kafka.Principal(t)] = true
	}
	for _, d := range want {
		if sp, err := definition(d); err == nil && sp != nil {
			managed[kafka.Principal(sp.Team)] = true
		}
	}
	b := kadm.NewACLs().Groups().Allow().AllowHosts().Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	res, err := s.c.Admin().DescribeACLs(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("consumers: describe group acls: %w", err)
	}
	out := map[string][]string{}
	for _, r := range res {
		if r.Err != nil {
			return nil, fmt.Errorf("consumers: describe group acls: %w", r.Err)
		}
		for _, a := range r.Described {
			if managed[a.Principal] && a.Permission == kmsg.ACLPermissionTypeAllow && a.Host == "*" {
				out[a.Name] = append(out[a.Name], a.Principal)
			}
		}
	}
	for g := range out {
		slices.Sort(out[g])
		out[g] = slices.Compact(out[g])
	}
	return out, nil
}
