package clickhouse

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse/chhttp"
)

// Kinds of the resources this package provisions, as plans and state name them.
const (
	KindTable = "clickhouse_table"
	KindView  = "clickhouse_view"
)

// The ingest writer's bookkeeping columns, on every base table: where each row came from in
// Kafka (so a restarted writer can tell what it already wrote) and when the server stored it
// (so a view's backfill and its materialized view split the rows exactly).
const (
	ColTopic      = "_topic"
	ColPartition  = "_partition"
	ColOffset     = "_offset"
	ColInsertedAt = "_inserted_at"
)

// Generations are the server versions from which the column mapping changes (typemap.CHFeatures):
// a table spec carries its columns for each, and the sink uses the one of the live server.
var Generations = []string{"18.16", "20.1", "22.1"}

// Column is one column of a table as system.columns reports it.
type Column struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Default string `json:"default,omitempty"` // "MATERIALIZED now()" for _inserted_at
}

// TableSpec is the wanted base table of an event (Desired.Spec of a clickhouse_table).
type TableSpec struct {
	Database string `json:"database"`
	Table    string `json:"table"`
	// Columns are the table's columns per generation (see Generations), bookkeeping included.
	Columns map[string][]Column `json:"columns"`
	// OrderBy is the sorting key as expressions: a nullable field as assumeNotNull(field)
	// (18.16 refuses Nullable key columns), event_id last.
	OrderBy []string `json:"order_by"`
	// TTLDays is sinks.clickhouse.ttl in days; 0 for none.
	TTLDays int64  `json:"ttl_days,omitempty"`
	Event   string `json:"event"`
}

// ID is "database.table", the resource name in plans.
func (s TableSpec) ID() string { return s.Database + "." + s.Table }

// ColumnsFor returns the columns for a server of version v.
func (s TableSpec) ColumnsFor(f typemap.CHFeatures) []Column { return s.Columns[generation(f)] }

func generation(f typemap.CHFeatures) string {
	g := Generations[0]
	for _, v := range Generations {
		if atLeast(f.Version, v) {
			g = v
		}
	}
	return g
}

// atLeast compares "major.minor" prefixes; an unparsable version is older than any.
func atLeast(version, min string) bool {
	var a, b, c, d int
	if n, _ := fmt.Sscanf(version, "%d.%d", &a, &b); n < 2 {
		return false
	}
	fmt.Sscanf(min, "%d.%d", &c, &d)
	return a > c || (a == c && b >= d)
}

// NewTableSpec builds the base table of event ev (compiled message md) in database as table.
func NewTableSpec(ev *contract.Event, md protoreflect.MessageDescriptor, database, table string) (TableSpec, error) {
	cs := ev.Sinks.ClickHouse
	if cs == nil {
		return TableSpec{}, fmt.Errorf("clickhouse: %s has no sinks.clickhouse", ev.ID())
	}
	spec := TableSpec{Database: database, Table: table, Columns: map[string][]Column{}, Event: ev.ID()}
	for _, g := range Generations {
		f := typemap.CHFeaturesFor(g + ".0")
		cols, err := typemap.ClickHouse(md, f)
		if err != nil {
			return TableSpec{}, fmt.Errorf("clickhouse: table %s: %w", table, err)
		}
		var out []Column
		for _, c := range cols {
			if strings.HasPrefix(c.Name, "_") && (c.Name == ColTopic || c.Name == ColPartition || c.Name == ColOffset || c.Name == ColInsertedAt) {
				return TableSpec{}, fmt.Errorf("clickhouse: table %s: field %s takes the name of the ingest writer's bookkeeping column", table, c.Name)
			}
			out = append(out, Column{Name: c.Name, Type: c.Type})
		}
		topic := "String"
		if f.LowCardinality {
			topic = "LowCardinality(String)"
		}
		out = append(out, Column{Name: ColTopic, Type: topic}, Column{Name: ColPartition, Type: "Int32"},
			Column{Name: ColOffset, Type: "Int64"}, Column{Name: ColInsertedAt, Type: "DateTime", Default: "MATERIALIZED now()"})
		spec.Columns[g] = out
	}
	old := spec.Columns[Generations[0]]
	typeOf := map[string]string{}
	for _, c := range old {
		typeOf[c.Name] = c.Type
	}
	orderBy := cs.OrderBy
	if len(orderBy) == 0 {
		orderBy = []string{"event_time"}
	}
	hasID := false
	for _, f := range orderBy {
		t, ok := typeOf[f]
		if !ok {
			return TableSpec{}, fmt.Errorf("clickhouse: table %s: order_by %q is not a top-level column", table, f)
		}
		spec.OrderBy = append(spec.OrderBy, keyExpr(f, t))
		hasID = hasID || f == "event_id"
	}
	if _, ok := typeOf["event_id"]; ok && !hasID {
		// ReplacingMergeTree collapses rows with equal sorting keys when it merges: ending the
		// key with event_id makes that "the same event", as far as the engine allows.
		spec.OrderBy = append(spec.OrderBy, keyExpr("event_id", typeOf["event_id"]))
	}
	if _, ok := typeOf["event_time"]; !ok {
		return TableSpec{}, fmt.Errorf("clickhouse: table %s: the event has no event_time to partition by", table)
	}
	if cs.TTL != "" {
		ms, err := contract.RetentionMillis(cs.TTL)
		if err != nil || ms <= 0 {
			return TableSpec{}, fmt.Errorf("clickhouse: table %s: ttl %q", table, cs.TTL)
		}
		spec.TTLDays = (ms + 86_400_000 - 1) / 86_400_000
	}
	return spec, nil
}

// keyExpr is a sorting-key expression for a column: nullable columns through assumeNotNull
// (a null sorts as the type's default value).
func keyExpr(name, typ string) string {
	if strings.HasPrefix(typ, "Nullable(") {
		return "assumeNotNull(" + chhttp.Ident(name) + ")"
	}
	return chhttp.Ident(name)
}

// CreateTableSQL is the DDL of the table on a server with features f.
func (s TableSpec) CreateTableSQL(f typemap.CHFeatures) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s (\n", chhttp.Ident(s.Database), chhttp.Ident(s.Table))
	cols := s.ColumnsFor(f)
	for i, c := range cols {
		fmt.Fprintf(&b, "  %s", columnDDL(c))
		if i < len(cols)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, ") ENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMM(event_time)\nORDER BY (%s)", strings.Join(s.OrderBy, ", "))
	if s.TTLDays > 0 && f.TTL {
		fmt.Fprintf(&b, "\nTTL toDateTime(event_time) + INTERVAL %d DAY", s.TTLDays)
	}
	return b.String()
}

func columnDDL(c Column) string {
	d := chhttp.Ident(c.Name) + " " + c.Type
	if c.Default != "" {
		d += " " + c.Default
	}
	return d
}

// Hash is a short content hash of any spec, for markers and state.
func Hash(v any) string {
	b, _ := json.Marshal(v)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// tableSpec accepts a TableSpec or a non-nil *TableSpec.
func tableSpec(v any) (TableSpec, error) {
	switch s := v.(type) {
	case TableSpec:
		return s, nil
	case *TableSpec:
		if s != nil {
			return *s, nil
		}
	}
	return TableSpec{}, fmt.Errorf("spec is %T, want clickhouse.TableSpec", v)
}
