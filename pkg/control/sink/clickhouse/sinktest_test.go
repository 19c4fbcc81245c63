package clickhouse_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chtest"
	"github.com/evctl/evctl/pkg/control/sink/sinktest"
)

// TestConformance runs the shared sink suite on clickhouse_table and clickhouse_view against a
// real 18.16 server. Changes by hand are DDL another client runs.
func TestConformance(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.conn.Features(ctx); err != nil {
		t.Fatal(err)
	}
	md := chtest.Message(t, viewedV1, "ProfileViewed")
	exec := func(t *testing.T, q string) {
		t.Helper()
		if err := e.conn.Client.Exec(ctx, q, nil); err != nil {
			t.Fatal(err)
		}
	}
	table := func(t *testing.T, n int) sink.Desired {
		ev := event("staging")
		ts, err := clickhouse.NewTableSpec(ev, md, "events", fmt.Sprintf("suite_t%d", n))
		if err != nil {
			t.Fatal(err)
		}
		return sink.NewDesired(ev.ID(), clickhouse.KindTable, ts.ID(), ev.Stage, ts, nil)
	}
	t.Run("table", func(t *testing.T) {
		sinktest.Run(t, sinktest.Case{
			Sink: e.table,
			New:  table,
			// A column added by hand.
			Drift: func(t *testing.T, d sink.Desired) {
				exec(t, "ALTER TABLE "+d.Name+" ADD COLUMN by_hand Nullable(String)")
			},
			// A column type the server does not know: its CREATE is refused.
			Bad: func(t *testing.T, n int) (sink.Desired, func(*testing.T)) {
				d := table(t, n)
				ts := d.Spec.(clickhouse.TableSpec)
				cols := append([]clickhouse.Column(nil), ts.Columns["18.16"]...)
				cols[0].Type = "NoSuchType"
				ts.Columns = map[string][]clickhouse.Column{"18.16": cols}
				d.Spec = ts
				return d, nil
			},
			// A table someone made by hand under the name evctl wants.
			Foreign: func(t *testing.T, n int) sink.Desired {
				d := table(t, n)
				exec(t, "CREATE DATABASE IF NOT EXISTS events")
				exec(t, "CREATE TABLE "+d.Name+" (event_id String, event_time DateTime) ENGINE = MergeTree ORDER BY event_time")
				return d
			},
		})
	})
	t.Run("view", func(t *testing.T) {
		view := func(t *testing.T, n int) sink.Desired {
			base := table(t, 1000+n)
			cs := sinktest.Plan(t, e.table, base)
			if err := e.table.Apply(ctx, cs[0]); err != nil {
				t.Fatal(err)
			}
			ev := event("staging", contract.ClickHouseView{Name: "v", GroupBy: []contract.GroupKey{{Field: "profile_id"}},
				Measures: contract.Measures{{Name: "n", Func: "count"}}})
			vs, err := clickhouse.NewViewSpecs(ev, base.Spec.(clickhouse.TableSpec))
			if err != nil {
				t.Fatal(err)
			}
			return sink.NewDesired(ev.ID(), clickhouse.KindView, vs[0].ID(), ev.Stage, vs[0], nil)
		}
		sinktest.Run(t, sinktest.Case{
			Sink: e.view,
			New:  view,
			// The materialized view dropped by hand.
			Drift: func(t *testing.T, d sink.Desired) { exec(t, "DROP TABLE "+d.Name+"_mv") },
			// A view over a base table that does not exist: the server refuses its target.
			Bad: func(t *testing.T, n int) (sink.Desired, func(*testing.T)) {
				d := view(t, n)
				vs := d.Spec.(clickhouse.ViewSpec)
				vs.Base = "no_such_table"
				d.Spec = vs
				return d, nil
			},
			// A table someone made by hand where the view's target goes.
			Foreign: func(t *testing.T, n int) sink.Desired {
				d := view(t, n)
				exec(t, "CREATE TABLE "+d.Name+" (x String) ENGINE = MergeTree ORDER BY x")
				return d
			},
		})
	})
}
