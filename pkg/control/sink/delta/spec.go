package delta

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/storage/deltalog"
)

// Kind is the resource kind name in plans and state.
const Kind = "delta_table"

// Table configuration keys evctl sets on the tables it creates: the ownership mark. A table
// without ManagedKey=true is not evctl's, whatever state says.
const (
	ManagedKey = "evctl.managed"
	EventKey   = "evctl.event"
)

// Derived partition column (SPEC section 2: sinks.delta.partition_by may name event_date, a
// date column evctl derives from event_time).
const (
	EventDateColumn = "event_date"
	EventTimeColumn = "event_time"
	eventDateDoc    = "UTC calendar date of event_time; derived by evctl for partitioning (writers fill it as to_date(event_time))"
)

// TableSpec is the wanted shape of a Delta table (Desired.Spec).
type TableSpec struct {
	Event            string             `json:"event"` // "feed/video_played"
	Stage            string             `json:"stage"` // staging or prod
	Schema           typemap.StructType `json:"schema"`
	PartitionColumns []string           `json:"partition_columns"`
}

// Live is a Delta table as it is (Observed.Spec).
type Live struct {
	// TableSpec holds what the log says: the schema and partition columns of the latest
	// metaData, and the event of its evctl.event mark ("" when unmarked). Stage is empty.
	TableSpec
	URL           string // the table's location, e.g. file://.evctl/lake/feed/video_played_v1__r1
	Key           string // that location as a key prefix in the sink's store
	Revision      int    // 0 for the first location, n after the n-th replace
	Version       int64  // the latest commit version
	TableID       string // metaData.id
	ColumnMapping string // none, name or id
	Protocol      deltalog.Protocol
}

// NewTableSpec builds the wanted table of an event from its compiled message and its
// sinks.delta.partition_by, with the schema from typemap.Delta (the one mapping).
//
// A partition column must be a top-level column of a primitive type. event_date, unless the
// message has a field of that name, is derived: a date column appended after the contract's
// columns, nullable exactly when event_time is (a required event_time always has a date), with a
// comment saying how writers fill it. It needs an event_time timestamp column. The error names
// the offending column.
func NewTableSpec(event, stage string, md protoreflect.MessageDescriptor, partitionBy []string) (TableSpec, error) {
	schema, err := typemap.Delta(md)
	if err != nil {
		return TableSpec{}, fmt.Errorf("delta: table spec %s: %w", event, err)
	}
	spec := TableSpec{Event: event, Stage: stage, Schema: schema, PartitionColumns: []string{}}
	for _, col := range partitionBy {
		if slices.Contains(spec.PartitionColumns, col) {
			return TableSpec{}, fmt.Errorf("delta: table spec %s: partition column %q listed twice", event, col)
		}
		f, ok := field(spec.Schema, col)
		if !ok && col == EventDateColumn {
			et, hasTime := field(spec.Schema, EventTimeColumn)
			if !hasTime || et.Type.Primitive != typemap.DeltaTimestamp {
				return TableSpec{}, fmt.Errorf("delta: table spec %s: partition column %s is derived from a %s timestamp column, which the event lacks", event, EventDateColumn, EventTimeColumn)
			}
			f = typemap.StructField{Name: EventDateColumn, Type: typemap.DataType{Primitive: typemap.DeltaDate}, Nullable: et.Nullable,
				Metadata: map[string]any{typemap.DeltaCommentKey: eventDateDoc}}
			spec.Schema.Fields = append(spec.Schema.Fields, f)
			ok = true
		}
		switch {
		case !ok:
			return TableSpec{}, fmt.Errorf("delta: table spec %s: partition column %q is not a top-level field (or %s)", event, col, EventDateColumn)
		case f.Type.Primitive == "":
			return TableSpec{}, fmt.Errorf("delta: table spec %s: partition column %q is a %s; Delta partitions by primitive columns only", event, col, short(f.Type))
		}
		spec.PartitionColumns = append(spec.PartitionColumns, col)
	}
	return spec, nil
}

func field(st typemap.StructType, name string) (typemap.StructField, bool) {
	for _, f := range st.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return typemap.StructField{}, false
}

// TableName is the Desired.Name of a table: its location, the relative table path (from
// config.Project.DeltaTableName) under the environment's delta.url as written in evctl.yaml.
func TableName(baseURL, rel string) string {
	return strings.TrimSuffix(baseURL, "/") + "/" + strings.Trim(rel, "/")
}

// SchemaString serializes a schema as a metaData schemaString: compact JSON, without the HTML
// escaping encoding/json adds by default (descriptions keep their < and &).
func SchemaString(st typemap.StructType) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		return "", fmt.Errorf("delta: encode schema: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// Facts are what describe and status show about an observed table: its location, table id,
// version, column mapping mode and the sha256 of its schemaString. Nil when it does not exist.
func Facts(o sink.Observed) map[string]string {
	live, ok := o.Spec.(Live)
	if !ok || !o.Exists {
		return nil
	}
	facts := map[string]string{
		"location":       live.URL,
		"table_id":       live.TableID,
		"version":        fmt.Sprint(live.Version),
		"column_mapping": live.ColumnMapping,
	}
	if s, err := SchemaString(live.Schema); err == nil {
		sum := sha256.Sum256([]byte(s))
		facts["schema_sha256"] = hex.EncodeToString(sum[:])
	}
	return facts
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
	return TableSpec{}, fmt.Errorf("spec is %T, want delta.TableSpec", v)
}
