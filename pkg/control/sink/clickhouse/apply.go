package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
)

// Apply implements sink.Sink for tables. Every step is safe to repeat after a crash: CREATE ...
// IF NOT EXISTS, and an update re-reads the live columns and adds only the missing ones (18.16
// has no ADD COLUMN IF NOT EXISTS).
func (s *TableSink) Apply(ctx context.Context, c sink.Change) error {
	if err := s.apply(ctx, c); err != nil {
		return fmt.Errorf("clickhouse: %s %s: %w", c.Action, c.Name, err)
	}
	return nil
}

func (s *TableSink) apply(ctx context.Context, c sink.Change) error {
	f, err := s.conn.Features(ctx)
	if err != nil {
		return err
	}
	db, table, err := splitID(c.Name)
	if err != nil {
		return err
	}
	ident := chhttp.Ident(db) + "." + chhttp.Ident(table)
	if c.Action == sink.Delete || c.Action == sink.Replace {
		if err := s.conn.Client.Exec(ctx, "DROP TABLE IF EXISTS "+ident, nil); err != nil {
			return err
		}
		if c.Action == sink.Delete {
			return nil
		}
	}
	if c.Desired == nil {
		return fmt.Errorf("no desired spec")
	}
	w, err := tableSpec(c.Desired.Spec)
	if err != nil {
		return err
	}
	switch c.Action {
	case sink.Create, sink.Replace:
		if err := s.conn.Client.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+chhttp.Ident(db), nil); err != nil {
			return err
		}
		return s.conn.Client.Exec(ctx, w.CreateTableSQL(f), nil)
	case sink.Update:
		_, cols, err := s.conn.tables(ctx, db, []string{table})
		if err != nil {
			return err
		}
		td := compareTable(w, w.ColumnsFor(f), LiveTable{Columns: cols[table]})
		for _, col := range td.add {
			if err := s.conn.Client.Exec(ctx, "ALTER TABLE "+ident+" ADD COLUMN "+columnDDL(col), nil); err != nil {
				return err
			}
		}
		for _, col := range td.modify {
			if err := s.conn.Client.Exec(ctx, "ALTER TABLE "+ident+" MODIFY COLUMN "+columnDDL(col), nil); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected action %s", c.Action)
}

// Apply implements sink.Sink for views. create, replace and the rebuild of an interrupted view
// all run the same steps, each safe to repeat: drop what exists, create the target table, create
// the materialized view taking rows the server stores from a cutoff two seconds ahead, wait until
// the cutoff has passed and no insert that began before it is still running, backfill the rows
// stored before the cutoff, and record the backfill in evctl_views. A row is therefore counted by
// exactly one of the backfill and the materialized view.
func (s *ViewSink) Apply(ctx context.Context, c sink.Change) error {
	if err := s.apply(ctx, c); err != nil {
		return fmt.Errorf("clickhouse: %s view %s: %w", c.Action, c.Name, err)
	}
	return nil
}

func (s *ViewSink) apply(ctx context.Context, c sink.Change) error {
	db, target, err := splitID(c.Name)
	if err != nil {
		return err
	}
	cl := s.conn.Client
	for _, t := range []string{target + "_mv", target} {
		if err := cl.Exec(ctx, "DROP TABLE IF EXISTS "+chhttp.Ident(db)+"."+chhttp.Ident(t), nil); err != nil {
			return err
		}
	}
	if c.Action == sink.Delete {
		return nil
	}
	if c.Desired == nil {
		return fmt.Errorf("no desired spec")
	}
	w, err := viewSpec(c.Desired.Spec)
	if err != nil {
		return err
	}
	if err := cl.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+chhttp.Ident(db), nil); err != nil {
		return err
	}
	if err := cl.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (view String, marker String, cutoff Int64, backfilled_at DateTime) ENGINE = MergeTree ORDER BY view",
		chhttp.Ident(db), ViewsTable), nil); err != nil {
		return err
	}
	if err := cl.Exec(ctx, w.CreateTargetSQL(), nil); err != nil {
		return err
	}
	now, err := serverNow(ctx, cl)
	if err != nil {
		return err
	}
	cutoff := now + 2
	if err := cl.Exec(ctx, w.CreateMVSQL(cutoff), nil); err != nil {
		return err
	}
	if err := waitPast(ctx, cl, w, cutoff); err != nil {
		return err
	}
	if err := cl.Exec(ctx, w.BackfillSQL(cutoff), nil); err != nil {
		return err
	}
	return cl.Exec(ctx, fmt.Sprintf("INSERT INTO %s.%s (view, marker, cutoff, backfilled_at) VALUES (%s, %s, %d, now())",
		chhttp.Ident(db), ViewsTable, chhttp.Quote(target), chhttp.Quote(w.Marker()), cutoff), nil)
}

func serverNow(ctx context.Context, cl *chhttp.Client) (int64, error) {
	rows, err := chhttp.QueryInto[struct {
		T json.Number `json:"t"`
	}](ctx, cl, "SELECT toUnixTimestamp(now()) AS t")
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 {
		return 0, fmt.Errorf("now(): %d rows", len(rows))
	}
	return rows[0].T.Int64()
}

// waitPast waits until the server's clock is past cutoff and no INSERT into the base table that
// began before it is still running (system.processes), so the backfill sees all of them.
func waitPast(ctx context.Context, cl *chhttp.Client, w ViewSpec, cutoff int64) error {
	for {
		rows, err := chhttp.QueryInto[struct {
			Now     json.Number `json:"now"`
			Running json.Number `json:"running"`
		}](ctx, cl, fmt.Sprintf("SELECT toUnixTimestamp(now()) AS now, (SELECT count() FROM system.processes WHERE query LIKE %s AND query NOT LIKE '%%system.processes%%' AND elapsed >= toUnixTimestamp(now()) - %d - 1) AS running",
			chhttp.Quote("%INSERT INTO%"+w.Base+"%"), cutoff))
		if err != nil {
			return err
		}
		if len(rows) == 1 {
			now, _ := rows[0].Now.Int64()
			running, _ := rows[0].Running.Int64()
			if now > cutoff && running == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
