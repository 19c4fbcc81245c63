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
)

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
		d := sink.Desired{Event: id, Kind: kind, Name: name, Stage: ev.Stage, Spec: spec, DependsOn: deps}
		if spec != nil {
			d.Hash = Hash(spec)
		}
		return d
	}
	tableID := db + "." + table
	if e.ClickHouse.URL == "" {
		out := []sink.Desired{mk(KindTable, tableID, nil, dependsOn)}
		for _, v := range ev.Sinks.ClickHouse.Views {
			out = append(out, mk(KindView, tableID+"__"+v.Name, nil, append(append([]string(nil), dependsOn...), KindTable+"/"+tableID)))
		}
		return out, nil
	}
	if md == nil {
		return nil, fmt.Errorf("clickhouse: %s: no compiled message; run `evctl lint`", id)
	}
	ts, err := NewTableSpec(ev, md, db, table)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %s: %w", id, err)
	}
	out := []sink.Desired{mk(KindTable, ts.ID(), ts, dependsOn)}
	views, err := NewViewSpecs(ev, ts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %s: %w", id, err)
	}
	for _, v := range views {
		out = append(out, mk(KindView, v.ID(), v, append(append([]string(nil), dependsOn...), KindTable+"/"+ts.ID())))
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
