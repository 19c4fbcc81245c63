package clickhouse

import (
	"fmt"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
)

// ViewSpec is one wanted analytics view (Desired.Spec of a clickhouse_view): the target table
// <base>__<view> (AggregatingMergeTree) and the materialized view <base>__<view>_mv that fills
// it from the base table.
type ViewSpec struct {
	Database string        `json:"database"`
	Base     string        `json:"base"`
	Target   string        `json:"target"`
	MV       string        `json:"mv"`
	Keys     []ViewKey     `json:"keys"`
	Measures []ViewMeasure `json:"measures"`
	Event    string        `json:"event"`
}

// ViewKey is one group_by column and the expression over the base table that fills it.
type ViewKey struct {
	Column string `json:"column"`
	Expr   string `json:"expr"`
	Bucket bool   `json:"bucket,omitempty"` // a time bucket: the target is partitioned by it
}

// ViewMeasure is one aggregate column.
type ViewMeasure struct {
	Column string `json:"column"`
	Func   string `json:"func"`  // count | sum | min | max | uniq
	Field  string `json:"field"` // "" for count
}

// ID is "database.target", the resource name in plans.
func (v ViewSpec) ID() string { return v.Database + "." + v.Target }

// Marker is the string the materialized view's query carries: it marks the view as evctl's and
// records which definition it runs, since ClickHouse 18.16 has no comments on tables or views.
func (v ViewSpec) Marker() string { return "evctl:" + Hash(v.definition()) }

// definition is what makes two views the same: everything but their names' database.
func (v ViewSpec) definition() any {
	return struct {
		Base     string
		Keys     []ViewKey
		Measures []ViewMeasure
	}{v.Base, v.Keys, v.Measures}
}

// NewViewSpecs builds the views of sinks.clickhouse over base table t.
func NewViewSpecs(ev *contract.Event, t TableSpec) ([]ViewSpec, error) {
	cs := ev.Sinks.ClickHouse
	if cs == nil {
		return nil, nil
	}
	typeOf := map[string]string{}
	for _, c := range t.Columns[Generations[0]] {
		typeOf[c.Name] = c.Type
	}
	var out []ViewSpec
	for _, v := range cs.Views {
		if why := v.Shadowing(); why != "" {
			return nil, fmt.Errorf("clickhouse: view %s: %s", v.Name, why)
		}
		target := t.Table + "__" + v.Name
		spec := ViewSpec{Database: t.Database, Base: t.Table, Target: target, MV: target + "_mv", Event: ev.ID()}
		for _, k := range v.GroupBy {
			typ, ok := typeOf[k.Field]
			if !ok {
				return nil, fmt.Errorf("clickhouse: view %s: group_by %q is not a top-level column", v.Name, k.Field)
			}
			col := chhttp.Ident(k.Field)
			key := ViewKey{Column: k.Column()}
			switch k.Bucket {
			case "":
				key.Expr = keyExpr(k.Field, typ)
			case contract.BucketDay:
				key.Expr, key.Bucket = "toDate("+col+")", true
			case contract.BucketHour:
				key.Expr, key.Bucket = "toStartOfHour("+col+")", true
			case contract.BucketMinute:
				key.Expr, key.Bucket = "toStartOfMinute("+col+")", true
			default:
				return nil, fmt.Errorf("clickhouse: view %s: bucket %q", v.Name, k.Bucket)
			}
			spec.Keys = append(spec.Keys, key)
		}
		for _, m := range v.Measures {
			if m.Field != "" {
				if _, ok := typeOf[m.Field]; !ok {
					return nil, fmt.Errorf("clickhouse: view %s: measure %s: %q is not a top-level column", v.Name, m.Name, m.Field)
				}
			}
			spec.Measures = append(spec.Measures, ViewMeasure{Column: m.Name, Func: m.Func, Field: m.Field})
		}
		out = append(out, spec)
	}
	return out, nil
}

// selectSQL is the aggregating SELECT over the base table with the given row filter: the
// materialized view's query, the backfill's and (with a false filter) the target's shape. Its
// aliases must be the target's column names (a materialized view writes by name), and in
// ClickHouse an alias replaces the column of that name everywhere in the SELECT: so a measure may
// not be named like a field another measure reads (NewViewSpecs and lint refuse it). A subquery
// that renames the inputs would avoid that, but 18.16 materialized views lose all but one column
// of such a subquery.
func (v ViewSpec) selectSQL(where string) string {
	var cols, group []string
	for _, k := range v.Keys {
		cols = append(cols, k.Expr+" AS "+chhttp.Ident(k.Column))
		group = append(group, chhttp.Ident(k.Column))
	}
	for _, m := range v.Measures {
		arg := ""
		if m.Field != "" {
			arg = chhttp.Ident(m.Field)
		}
		cols = append(cols, fmt.Sprintf("%sState(%s) AS %s", m.Func, arg, chhttp.Ident(m.Column)))
	}
	q := fmt.Sprintf("SELECT %s FROM %s.%s WHERE %s", strings.Join(cols, ", "), chhttp.Ident(v.Database), chhttp.Ident(v.Base), where)
	if len(group) > 0 {
		q += " GROUP BY " + strings.Join(group, ", ")
	}
	return q
}

// CreateTargetSQL creates the target table with the column types of the aggregating SELECT
// (AggregateFunction(count), AggregateFunction(uniq, String), ...) and no rows.
func (v ViewSpec) CreateTargetSQL() string {
	order := "tuple()"
	var keys []string
	partition := ""
	for _, k := range v.Keys {
		keys = append(keys, chhttp.Ident(k.Column))
		if k.Bucket && partition == "" {
			partition = " PARTITION BY toYYYYMM(" + chhttp.Ident(k.Column) + ")"
		}
	}
	if len(keys) > 0 {
		order = "(" + strings.Join(keys, ", ") + ")"
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ENGINE = AggregatingMergeTree()%s ORDER BY %s AS %s",
		chhttp.Ident(v.Database), chhttp.Ident(v.Target), partition, order, v.selectSQL("0"))
}

// CreateMVSQL is the materialized view, taking the rows the server stores from cutoff (a unix
// time) on; the backfill takes the rows before it, so each row is counted exactly once.
func (v ViewSpec) CreateMVSQL(cutoff int64) string {
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s TO %s.%s AS %s",
		chhttp.Ident(v.Database), chhttp.Ident(v.MV), chhttp.Ident(v.Database), chhttp.Ident(v.Target),
		v.selectSQL(fmt.Sprintf("(%s >= toDateTime(%d)) AND (%s != '')", ColInsertedAt, cutoff, chhttp.Quote(v.Marker()))))
}

// BackfillSQL inserts the aggregates of every row stored before cutoff.
func (v ViewSpec) BackfillSQL(cutoff int64) string {
	return fmt.Sprintf("INSERT INTO %s.%s %s", chhttp.Ident(v.Database), chhttp.Ident(v.Target),
		v.selectSQL(fmt.Sprintf("%s < toDateTime(%d)", ColInsertedAt, cutoff)))
}

// ReadSQL is how to read the view's numbers: the -Merge of each measure grouped by the keys
// (plain SELECT, no FINAL: FINAL on an aggregating table returns nothing on 18.16).
func (v ViewSpec) ReadSQL() string {
	var cols, group []string
	for _, k := range v.Keys {
		cols = append(cols, chhttp.Ident(k.Column))
		group = append(group, chhttp.Ident(k.Column))
	}
	for _, m := range v.Measures {
		cols = append(cols, fmt.Sprintf("%sMerge(%s) AS %s", m.Func, chhttp.Ident(m.Column), chhttp.Ident(m.Column)))
	}
	q := fmt.Sprintf("SELECT %s FROM %s.%s", strings.Join(cols, ", "), chhttp.Ident(v.Database), chhttp.Ident(v.Target))
	if len(group) > 0 {
		q += " GROUP BY " + strings.Join(group, ", ") + " ORDER BY " + strings.Join(group, ", ")
	}
	return q
}

func viewSpec(v any) (ViewSpec, error) {
	switch s := v.(type) {
	case ViewSpec:
		return s, nil
	case *ViewSpec:
		if s != nil {
			return *s, nil
		}
	}
	return ViewSpec{}, fmt.Errorf("spec is %T, want clickhouse.ViewSpec", v)
}
