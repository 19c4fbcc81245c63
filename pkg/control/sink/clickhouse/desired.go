package clickhouse

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
)

// TableDef is the clickhouse_table kind without a connection: each hosted event with
// sinks.clickhouse wants its base table, after its descriptor.
type TableDef struct{}

// ViewDef is the clickhouse_view kind without a connection: one per sinks.clickhouse.views entry,
// after its base table.
type ViewDef struct{}

// Kind implements sink.Def.
func (TableDef) Kind() string { return KindTable }

// Kind implements sink.Def.
func (ViewDef) Kind() string { return KindView }

// DependsOn implements sink.Def.
func (TableDef) DependsOn() []string { return []string{descriptor.Kind} }

// DependsOn implements sink.Def: a view reads its base table.
func (ViewDef) DependsOn() []string { return []string{descriptor.Kind, KindTable} }

// Desire implements sink.Def.
func (TableDef) Desire(t *sink.Target) ([]sink.Desired, error) { return desireKind(t, KindTable) }

// Desire implements sink.Def.
func (ViewDef) Desire(t *sink.Target) ([]sink.Desired, error) { return desireKind(t, KindView) }

// Names implements sink.Namer: "database.table".
func (TableDef) Names(p *config.Project, env string, ev *contract.Event) []string {
	if ev.Sinks.ClickHouse == nil {
		return nil
	}
	return []string{databaseOf(p, env) + "." + p.ClickHouseTableName(sink.EnvOrPlaceholder(env), ev)}
}

// Names implements sink.Namer: "database.<table>__<view>" for each view.
func (ViewDef) Names(p *config.Project, env string, ev *contract.Event) []string {
	if ev.Sinks.ClickHouse == nil {
		return nil
	}
	base := databaseOf(p, env) + "." + p.ClickHouseTableName(sink.EnvOrPlaceholder(env), ev)
	var out []string
	for _, v := range ev.Sinks.ClickHouse.Views {
		out = append(out, base+"__"+v.Name)
	}
	return out
}

func databaseOf(p *config.Project, env string) string {
	e, err := p.Env(env)
	if err != nil {
		return config.ClickHouseEnv{}.DatabaseName()
	}
	return e.ClickHouse.DatabaseName()
}

func desireKind(t *sink.Target, kind string) ([]sink.Desired, error) {
	var out []sink.Desired
	for _, ev := range t.Events {
		if ev.Sinks.ClickHouse == nil {
			continue
		}
		var md protoreflect.MessageDescriptor
		if t.Config.ClickHouse.URL != "" {
			var err error
			if md, err = t.Message(ev); err != nil {
				return nil, err
			}
		}
		ds, err := Desire(t.Project, t.Env, ev, md, []string{descriptor.Ref(ev.ID())})
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.Kind == kind {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// Desire builds the ClickHouse resources of one event in environment env: its base table and
// one clickhouse_view per sinks.clickhouse.views entry, each depending on dependsOn (the
// event's descriptor) and the views also on the table. It returns nothing for an event without
// sinks.clickhouse. In an environment without clickhouse.url the resources are listed by name
// with no spec, so the plan shows them skipped rather than silently absent.
func Desire(p *config.Project, env string, ev *contract.Event, md protoreflect.MessageDescriptor, dependsOn []string) ([]sink.Desired, error) {
	if ev.Sinks.ClickHouse == nil {
		return nil, nil
	}
	e, err := p.Env(env)
	if err != nil {
		return nil, err
	}
	db, table := e.ClickHouse.DatabaseName(), p.ClickHouseTableName(env, ev)
	id := ev.ID()
	mk := func(kind, name string, spec any, deps []string) sink.Desired {
		return sink.NewDesired(id, kind, name, ev.Stage, spec, deps)
	}
	tableID := db + "." + table
	if e.ClickHouse.URL == "" {
		out := []sink.Desired{mk(KindTable, tableID, nil, dependsOn)}
		for _, v := range ev.Sinks.ClickHouse.Views {
			out = append(out, mk(KindView, tableID+"__"+v.Name, nil, append(append([]string(nil), dependsOn...), sink.Ref(KindTable, tableID))))
		}
		return out, nil
	}
	if md == nil {
		return nil, fmt.Errorf("clickhouse: %s: no compiled message; run `evctl lint`", id)
	}
	ts, err := NewTableSpec(ev, md, db, table)
	if err != nil {
		return nil, fmt.Errorf("plan: %s: %w", id, err)
	}
	out := []sink.Desired{mk(KindTable, ts.ID(), ts, dependsOn)}
	views, err := NewViewSpecs(ev, ts)
	if err != nil {
		return nil, fmt.Errorf("plan: %s: %w", id, err)
	}
	for _, v := range views {
		out = append(out, mk(KindView, v.ID(), v, append(append([]string(nil), dependsOn...), sink.Ref(KindTable, ts.ID()))))
	}
	return out, nil
}

// DDL is what `evctl export --format clickhouse` prints: the statements apply runs to create the
// event's database, table and views on a server with features f (views backfilled from cutoff 0
// here: on a new table there is nothing to backfill).
func DDL(ev *contract.Event, md protoreflect.MessageDescriptor, database, table string, f typemap.CHFeatures) (string, error) {
	ts, err := NewTableSpec(ev, md, database, table)
	if err != nil {
		return "", err
	}
	views, err := NewViewSpecs(ev, ts)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s on ClickHouse %s\nCREATE DATABASE IF NOT EXISTS %s;\n\n%s;\n", ev.ID(), f.Version, chhttp.Ident(database), ts.CreateTableSQL(f))
	for _, v := range views {
		fmt.Fprintf(&b, "\n%s;\n%s;\n", v.CreateTargetSQL(), v.CreateMVSQL(0))
	}
	return b.String(), nil
}
