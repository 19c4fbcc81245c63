package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
)

// ViewsTable is the bookkeeping table (in the environment's database) where apply records each
// view whose backfill finished: a materialized view without its row here was interrupted
// between creation and backfill, and is rebuilt.
const ViewsTable = "evctl_views"

// Conn is one server shared by the table and view sinks of an environment.
type Conn struct {
	Client   *chhttp.Client
	Database string
	// AllowDestroy lets a changed prod view plan as replace (rebuilt from the base table)
	// instead of blocked; the apply engine still runs a replace only with --allow-destroy.
	AllowDestroy bool

	mu       sync.Mutex
	features *typemap.CHFeatures
}

// NewConn returns a connection to the server at url; user and password may be empty.
func NewConn(url, database, user, password string) (*Conn, error) {
	c, err := chhttp.New(url, user, password)
	if err != nil {
		return nil, err
	}
	return &Conn{Client: c, Database: database}, nil
}

// Features reads SELECT version() once and returns what the server has.
func (c *Conn) Features(ctx context.Context) (typemap.CHFeatures, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.features != nil {
		return *c.features, nil
	}
	v, err := c.Client.Version(ctx)
	if err != nil {
		return typemap.CHFeatures{}, err
	}
	f := typemap.CHFeaturesFor(v)
	c.features = &f
	return f, nil
}

// cachedFeatures is what Features read, for the pure Diff (Observe always runs first).
func (c *Conn) cachedFeatures() typemap.CHFeatures {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.features == nil {
		return typemap.CHFeaturesFor("")
	}
	return *c.features
}

// TableSink is the clickhouse_table kind.
type TableSink struct {
	TableDef
	conn *Conn
}

// ViewSink is the clickhouse_view kind.
type ViewSink struct {
	ViewDef
	conn *Conn
}

// NewTableSink returns the clickhouse_table sink of conn.
func NewTableSink(conn *Conn) *TableSink { return &TableSink{conn: conn} }

// NewViewSink returns the clickhouse_view sink of conn.
func NewViewSink(conn *Conn) *ViewSink { return &ViewSink{conn: conn} }

// LiveTable is the Observed.Spec of an existing table.
type LiveTable struct {
	Columns      []Column
	SortingKey   string
	PartitionKey string
	Engine       string
	Version      string
}

type tableRow struct {
	Database     string `json:"database"`
	Name         string `json:"name"`
	Engine       string `json:"engine"`
	SortingKey   string `json:"sorting_key"`
	PartitionKey string `json:"partition_key"`
	Create       string `json:"create_table_query"`
}

type columnRow struct {
	Table       string `json:"table"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	DefaultKind string `json:"default_kind"`
	DefaultExpr string `json:"default_expression"`
}

// tables reads system.tables and system.columns for the named tables of database db.
func (c *Conn) tables(ctx context.Context, db string, names []string) (map[string]tableRow, map[string][]Column, error) {
	if len(names) == 0 {
		return nil, nil, nil
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = chhttp.Quote(n)
	}
	in := strings.Join(quoted, ", ")
	trs, err := chhttp.QueryInto[tableRow](ctx, c.Client, fmt.Sprintf(
		"SELECT database, name, engine, sorting_key, partition_key, create_table_query FROM system.tables WHERE database = %s AND name IN (%s)", chhttp.Quote(db), in))
	if err != nil {
		return nil, nil, err
	}
	crs, err := chhttp.QueryInto[columnRow](ctx, c.Client, fmt.Sprintf(
		"SELECT table, name, type, default_kind, default_expression FROM system.columns WHERE database = %s AND table IN (%s)", chhttp.Quote(db), in))
	if err != nil {
		return nil, nil, err
	}
	tables := map[string]tableRow{}
	for _, t := range trs {
		tables[t.Name] = t
	}
	cols := map[string][]Column{}
	for _, r := range crs {
		col := Column{Name: r.Name, Type: r.Type}
		if r.DefaultKind != "" && r.DefaultKind != "DEFAULT" || r.DefaultExpr != "" {
			col.Default = strings.TrimSpace(r.DefaultKind + " " + r.DefaultExpr)
		}
		cols[r.Table] = append(cols[r.Table], col)
	}
	return tables, cols, nil
}

// Observe implements sink.Sink: one query per system table for every wanted table.
func (s *TableSink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	f, err := s.conn.Features(ctx)
	if err != nil {
		return nil, err
	}
	byDB := map[string][]string{}
	for _, d := range want {
		db, t, err := splitID(d.Name)
		if err != nil {
			return nil, err
		}
		byDB[db] = append(byDB[db], t)
	}
	out := make([]sink.Observed, 0, len(want))
	live := map[string]sink.Observed{}
	for db, names := range byDB {
		tables, cols, err := s.conn.tables(ctx, db, names)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			o := sink.Observed{Kind: KindTable, Name: db + "." + n}
			if t, ok := tables[n]; ok {
				o.Exists = true
				o.Spec = LiveTable{Columns: cols[n], SortingKey: t.SortingKey, PartitionKey: t.PartitionKey, Engine: t.Engine, Version: f.Version}
			}
			live[o.Name] = o
		}
	}
	for _, d := range want {
		out = append(out, live[d.Name])
	}
	return out, nil
}

// LiveView is the Observed.Spec of a view whose target or materialized view exists.
type LiveView struct {
	TargetExists bool
	MVExists     bool
	Marker       string // the marker in the materialized view's query; "" when not evctl's
	Cutoff       int64  // the materialized view's _inserted_at cutoff
	Backfilled   bool   // ViewsTable records the backfill of this marker and cutoff
}

var (
	markerRE = regexp.MustCompile(`'(evctl:[0-9a-f]+)'`)
	cutoffRE = regexp.MustCompile(`_inserted_at >= toDateTime\((\d+)\)`)
)

// Observe implements sink.Sink.
func (s *ViewSink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	if _, err := s.conn.Features(ctx); err != nil {
		return nil, err
	}
	out := make([]sink.Observed, 0, len(want))
	for _, d := range want {
		db, target, err := splitID(d.Name)
		if err != nil {
			return nil, err
		}
		mv := target + "_mv"
		tables, _, err := s.conn.tables(ctx, db, []string{target, mv, ViewsTable})
		if err != nil {
			return nil, err
		}
		o := sink.Observed{Kind: KindView, Name: d.Name}
		lv := LiveView{}
		_, lv.TargetExists = tables[target]
		if t, ok := tables[mv]; ok {
			lv.MVExists = true
			if m := markerRE.FindStringSubmatch(t.Create); m != nil {
				lv.Marker = m[1]
				o.Managed = true
			}
			if m := cutoffRE.FindStringSubmatch(t.Create); m != nil {
				lv.Cutoff, _ = strconv.ParseInt(m[1], 10, 64)
			}
		}
		if _, ok := tables[ViewsTable]; ok && lv.Marker != "" {
			rows, err := chhttp.QueryInto[struct {
				N json.Number `json:"n"`
			}](ctx, s.conn.Client, fmt.Sprintf("SELECT count() AS n FROM %s.%s WHERE view = %s AND marker = %s AND cutoff = %d",
				chhttp.Ident(db), ViewsTable, chhttp.Quote(target), chhttp.Quote(lv.Marker), lv.Cutoff))
			if err != nil {
				return nil, err
			}
			lv.Backfilled = len(rows) == 1 && rows[0].N.String() != "0"
		}
		if lv.TargetExists || lv.MVExists {
			o.Exists, o.Spec = true, lv
		}
		out = append(out, o)
	}
	return out, nil
}

func splitID(id string) (db, name string, err error) {
	db, name, ok := strings.Cut(id, ".")
	if !ok || db == "" || name == "" {
		return "", "", fmt.Errorf("clickhouse: resource name %q: want database.table", id)
	}
	return db, name, nil
}

// Facts implements sink.FactSource.
func (s *TableSink) Facts(o sink.Observed) map[string]string {
	lt, ok := o.Spec.(LiveTable)
	if !o.Exists || !ok {
		return nil
	}
	return map[string]string{"table_id": o.Name, "server_version": lt.Version, "sorting_key": lt.SortingKey, "schema_hash": Hash(lt.Columns)}
}

// Facts implements sink.FactSource.
func (s *ViewSink) Facts(o sink.Observed) map[string]string {
	lv, ok := o.Spec.(LiveView)
	if !o.Exists || !ok {
		return nil
	}
	return map[string]string{"view": o.Name, "marker": lv.Marker, "cutoff": strconv.FormatInt(lv.Cutoff, 10)}
}
