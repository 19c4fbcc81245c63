package delta

import (
	"fmt"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
)

// Def is the delta_table kind without a store: each hosted event with a delta sink wants its
// table, named by its location (the naming template's path under delta.url), after its
// descriptor.
type Def struct{}

// Kind returns "delta_table".
func (Def) Kind() string { return Kind }

// DependsOn implements sink.Def.
func (Def) DependsOn() []string { return []string{descriptor.Kind} }

// Desire implements sink.Def. In an environment without a delta url a table is listed by its
// path with no spec, so the plan shows it skipped (the kind is not configured there) rather than
// silently absent.
func (Def) Desire(t *sink.Target) ([]sink.Desired, error) {
	var out []sink.Desired
	base := t.Config.Delta.URL
	for _, ev := range t.Events {
		if ev.Sinks.Delta == nil {
			continue
		}
		id, rel, deps := ev.ID(), t.Project.DeltaTableName(t.Env, ev), []string{descriptor.Ref(ev.ID())}
		if base == "" {
			out = append(out, sink.NewDesired(id, Kind, rel, ev.Stage, nil, deps))
			continue
		}
		md, err := t.Message(ev)
		if err != nil {
			return nil, err
		}
		spec, err := NewTableSpec(id, ev.Stage, md, ev.Sinks.Delta.PartitionBy)
		if err != nil {
			return nil, fmt.Errorf("plan: %s: %w", id, err)
		}
		out = append(out, sink.NewDesired(id, Kind, TableName(base, rel), ev.Stage, spec, deps))
	}
	return out, nil
}

// Names implements sink.Namer: the table's location under the environment's delta.url, else
// its path alone.
func (Def) Names(p *config.Project, env string, ev *contract.Event) []string {
	if ev.Sinks.Delta == nil {
		return nil
	}
	rel := p.DeltaTableName(sink.EnvOrPlaceholder(env), ev)
	if e, err := p.Env(env); err == nil && e.Delta.URL != "" {
		rel = TableName(e.Delta.URL, rel)
	}
	return []string{rel}
}
