package bigquery

import (
	"fmt"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
)

// Def is the bigquery_table kind without a client: each hosted event with a bigquery sink wants
// its table, named "project.dataset.table", after its descriptor.
type Def struct{}

// Kind returns "bigquery_table".
func (Def) Kind() string { return Kind }

// DependsOn implements sink.Def.
func (Def) DependsOn() []string { return []string{descriptor.Kind} }

// Desire implements sink.Def. In an environment without a bigquery project and dataset a table
// is listed by its table name with no spec, so the plan shows it skipped (the kind is not
// configured there) rather than silently absent.
func (Def) Desire(t *sink.Target) ([]sink.Desired, error) {
	var out []sink.Desired
	b := t.Config.BigQuery
	for _, ev := range t.Events {
		bs := ev.Sinks.BigQuery
		if bs == nil {
			continue
		}
		id, table, deps := ev.ID(), t.Project.TableName(t.Env, ev), []string{descriptor.Ref(ev.ID())}
		if b.Project == "" || b.Dataset == "" {
			out = append(out, sink.NewDesired(id, Kind, table, ev.Stage, nil, deps))
			continue
		}
		md, err := t.Message(ev)
		if err != nil {
			return nil, err
		}
		spec, err := NewTableSpec(md, b.Project, b.Dataset, table, TableOptions{
			PartitionBy: bs.PartitionBy, PartitionType: bs.PartitionType, ClusterBy: bs.ClusterBy,
			Event: id, OwnerTeam: ev.Owner.Team, Stage: ev.Stage, Description: ev.Description,
		})
		if err != nil {
			return nil, fmt.Errorf("plan: %s: %w", id, err)
		}
		out = append(out, sink.NewDesired(id, Kind, spec.ID(), ev.Stage, spec, deps))
	}
	return out, nil
}

// Names implements sink.Namer: "project.dataset.table" where the environment names a project
// and dataset, else the table name alone.
func (Def) Names(p *config.Project, env string, ev *contract.Event) []string {
	if ev.Sinks.BigQuery == nil {
		return nil
	}
	table := p.TableName(sink.EnvOrPlaceholder(env), ev)
	if e, err := p.Env(env); err == nil && e.BigQuery.Project != "" && e.BigQuery.Dataset != "" {
		table = e.BigQuery.Project + "." + e.BigQuery.Dataset + "." + table
	}
	return []string{table}
}
