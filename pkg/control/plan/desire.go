package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse"
	"github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

// KindOrder is the order resources are planned and applied in: the descriptor first (every sink
// depends on it), team users before the ACLs that name them, topics before their ACLs.
var KindOrder = []string{descriptor.Kind, kafka.KindUser, kafka.KindTopic, kafka.KindACL, bigquery.Kind, delta.Kind,
	clickhouse.KindTable, clickhouse.KindView}

// Target is one environment of a compiled repository.
type Target struct {
	Env      string
	Project  *config.Project
	Events   []*contract.Event
	Compiled *compile.Result
}

// Hosted returns the events the environment hosts (their stage is in its stages), sorted by ID.
func (t Target) Hosted() ([]*contract.Event, error) {
	env, err := t.Project.Env(t.Env)
	if err != nil {
		return nil, err
	}
	var out []*contract.Event
	for _, ev := range t.Events {
		if env.Hosts(ev.Stage) {
			out = append(out, ev)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out, nil
}

// Desire builds every wanted resource of the environment, by kind.
func Desire(t Target) (map[string][]sink.Desired, error) {
	events, err := t.Hosted()
	if err != nil {
		return nil, err
	}
	for _, ev := range events {
		if _, ok := t.Compiled.Files[ev.ID()]; !ok {
			return nil, fmt.Errorf("plan: %s did not compile; run `evctl lint`", ev.ID())
		}
	}
	sets, err := eventSets(t.Compiled, events)
	if err != nil {
		return nil, err
	}
	out := map[string][]sink.Desired{}
	teams := map[string]bool{}
	for i, ev := range events {
		id := ev.ID()
		topic := ""
		if ev.Sinks.Kafka != nil {
			topic = t.Project.TopicName(t.Env, ev)
		}
		dspec := descriptor.Spec{Entry: descriptor.Entry{
			Message: t.Compiled.Outputs[id].Message, Topic: topic, SHA256: sets[i].sha, Stage: ev.Stage,
		}, Set: sets[i].set}
		descID := descriptor.Kind + "/" + id
		out[descriptor.Kind] = append(out[descriptor.Kind], desired(id, descriptor.Kind, id, ev.Stage, dspec, nil))
		if ev.Sinks.BigQuery != nil {
			d, err := bigqueryDesired(t, ev, descID)
			if err != nil {
				return nil, err
			}
			out[bigquery.Kind] = append(out[bigquery.Kind], d)
		}
		if ev.Sinks.Delta != nil {
			d, err := deltaDesired(t, ev, descID)
			if err != nil {
				return nil, err
			}
			out[delta.Kind] = append(out[delta.Kind], d)
		}
		// ClickHouse builds its own resources (table, then its views); see clickhouse.Desire.
		chs, err := clickhouse.Desire(t.Project, t.Env, ev, t.Compiled.Messages[id], []string{descID})
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		for _, d := range chs {
			out[d.Kind] = append(out[d.Kind], d)
		}
		k := ev.Sinks.Kafka
		if k == nil {
			continue
		}
		tspec, err := kafka.NewTopicSpec(int32(k.Partitions), k.Retention, k.Configs)
		if err != nil {
			return nil, fmt.Errorf("plan: %s: %w", id, err)
		}
		out[kafka.KindTopic] = append(out[kafka.KindTopic], desired(id, kafka.KindTopic, topic, ev.Stage, tspec, []string{descID}))
		deps := []string{descID, kafka.KindTopic + "/" + topic}
		for _, team := range append(append([]string(nil), ev.Access.Producers...), ev.Access.Consumers...) {
			teams[team] = true
			deps = append(deps, kafka.KindUser+"/"+kafka.UserName(team))
		}
		aspec := kafka.NewACLSpec(topic, ev.Access.Producers, ev.Access.Consumers)
		out[kafka.KindACL] = append(out[kafka.KindACL], desired(id, kafka.KindACL, topic, ev.Stage, aspec, dedupe(deps)))
	}
	names := make([]string, 0, len(teams))
	for team := range teams {
		names = append(names, team)
	}
	sort.Strings(names)
	for _, team := range names {
		// A user belongs to a team, not an event: its event is "team/<name>" in plans and state.
		out[kafka.KindUser] = append(out[kafka.KindUser], desired("team/"+team, kafka.KindUser, kafka.UserName(team), "", kafka.NewUserSpec(team), nil))
	}
	return out, nil
}

// eventSet is one event's serialised descriptor set and its sha256.
type eventSet struct {
	set []byte
	sha string
}

// eventSets builds every event's descriptor set on every core, sharing the marshalled bytes of
// the files they import (compile.SetCache): with 1,200 events, rebuilding and marshalling the
// same imports for each was most of a no-change plan's time beyond compiling.
func eventSets(res *compile.Result, events []*contract.Event) ([]eventSet, error) {
	cache := compile.NewSetCache(res)
	out := make([]eventSet, len(events))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, ev := range events {
		g.Go(func() (err error) {
			out[i].set, out[i].sha, err = cache.Marshal([]string{ev.ID()})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// bigqueryDesired is an event's BigQuery table, named "project.dataset.table". In an environment
// without a bigquery project and dataset it is listed by table name with no spec, so the plan
// shows it skipped (no sink is wired) rather than silently absent.
func bigqueryDesired(t Target, ev *contract.Event, descID string) (sink.Desired, error) {
	env, err := t.Project.Env(t.Env)
	if err != nil {
		return sink.Desired{}, err
	}
	id, table, b := ev.ID(), t.Project.TableName(t.Env, ev), env.BigQuery
	if b.Project == "" || b.Dataset == "" {
		return desired(id, bigquery.Kind, table, ev.Stage, nil, []string{descID}), nil
	}
	md := t.Compiled.Messages[id]
	if md == nil {
		return sink.Desired{}, fmt.Errorf("plan: %s: no compiled message; run `evctl lint`", id)
	}
	bs := ev.Sinks.BigQuery
	spec, err := bigquery.NewTableSpec(md, b.Project, b.Dataset, table, bigquery.TableOptions{
		PartitionBy: bs.PartitionBy, PartitionType: bs.PartitionType, ClusterBy: bs.ClusterBy,
		Event: id, OwnerTeam: ev.Owner.Team, Stage: ev.Stage, Description: ev.Description,
	})
	if err != nil {
		return sink.Desired{}, fmt.Errorf("plan: %s: %w", id, err)
	}
	return desired(id, bigquery.Kind, spec.ID(), ev.Stage, spec, []string{descID}), nil
}

// deltaDesired is an event's Delta table, named by its location: the naming template's path
// under delta.url. In an environment without a delta url it is listed by that path with no spec,
// so the plan shows it skipped (no sink is wired) rather than silently absent.
func deltaDesired(t Target, ev *contract.Event, descID string) (sink.Desired, error) {
	env, err := t.Project.Env(t.Env)
	if err != nil {
		return sink.Desired{}, err
	}
	id, rel := ev.ID(), t.Project.DeltaTableName(t.Env, ev)
	if env.Delta.URL == "" {
		return desired(id, delta.Kind, rel, ev.Stage, nil, []string{descID}), nil
	}
	md := t.Compiled.Messages[id]
	if md == nil {
		return sink.Desired{}, fmt.Errorf("plan: %s: no compiled message; run `evctl lint`", id)
	}
	spec, err := delta.NewTableSpec(id, ev.Stage, md, ev.Sinks.Delta.PartitionBy)
	if err != nil {
		return sink.Desired{}, fmt.Errorf("plan: %s: %w", id, err)
	}
	return desired(id, delta.Kind, delta.TableName(env.Delta.URL, rel), ev.Stage, spec, []string{descID}), nil
}

func desired(event, kind, name, stage string, spec any, deps []string) sink.Desired {
	return sink.Desired{Event: event, Kind: kind, Name: name, Stage: stage, Spec: spec, Hash: Hash(spec), DependsOn: deps}
}

// Hash is the content hash of a spec (its JSON form; secrets are never in specs).
func Hash(spec any) string {
	b, err := json.Marshal(spec)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
