package bigquery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/typemap"
)

// Kind is the kind name of BigQuery tables in plans and state.
const Kind = "bigquery_table"

// The labels evctl puts on every table it creates. LabelManaged=true is its ownership mark.
const (
	LabelEvent   = "evctl-event"
	LabelOwner   = "evctl-owner-team"
	LabelStage   = "evctl-stage"
	LabelManaged = "evctl-managed"
)

// Time partitioning granularities (BigQuery's TimePartitioning.type).
const (
	PartitionHour  = "HOUR"
	PartitionDay   = "DAY"
	PartitionMonth = "MONTH"
	PartitionYear  = "YEAR"
)

// maxClustering is BigQuery's limit on clustering columns.
const maxClustering = 4

// TableSpec is the wanted (Desired.Spec) shape of a table; LiveTable carries the live one.
type TableSpec struct {
	Project string `json:"project"`
	Dataset string `json:"dataset"`
	Table   string `json:"table"`
	// Schema is typemap.BigQuery of the event message, unchanged.
	Schema []typemap.BQField `json:"schema"`
	// Partition is the time partitioning; a zero Partition means none.
	Partition Partition `json:"partition"`
	// Clustering names top-level columns, in order.
	Clustering  []string `json:"clustering,omitempty"`
	Description string   `json:"description,omitempty"`
	// Labels are evctl's own labels. Live labels not named here belong to someone else and are
	// neither compared nor touched.
	Labels map[string]string `json:"labels"`
	// Removed are the dotted paths of fields the contract reserves by name (removed fields). A
	// live column on that list was removed from the contract, which only a replace can do; any
	// other live column the schema lacks was added outside evctl. Only set in desired specs.
	Removed []string `json:"removed,omitempty"`
}

// Partition is a table's time partitioning on a column.
type Partition struct {
	Field string `json:"field,omitempty"`
	Type  string `json:"type,omitempty"` // HOUR, DAY, MONTH or YEAR
}

// ID is the table's fully qualified id, "project.dataset.table": the resource name in plans.
func (s TableSpec) ID() string { return s.Project + "." + s.Dataset + "." + s.Table }

// LiveTable is the Observed.Spec of an existing table.
type LiveTable struct {
	Spec     TableSpec
	ETag     string // guards updates: a table changed since it was read is not overwritten
	Location string
}

// TableOptions are a contract's sinks.bigquery block and the event facts the labels carry.
type TableOptions struct {
	PartitionBy   string   // top-level TIMESTAMP or DATE column; "" for no partitioning
	PartitionType string   // HOUR, DAY (default), MONTH or YEAR
	ClusterBy     []string // up to 4 top-level columns
	Event         string   // "feed/video_played"
	OwnerTeam     string
	Stage         string // "staging" or "prod"
	Description   string
}

// NewTableSpec builds the wanted table of an event from its compiled message: the schema is
// typemap.BigQuery(md), the labels carry the event, owner team and stage (sanitised to label
// syntax) and evctl-managed=true. It returns an error (prefixed "bigquery:") when the message
// cannot be mapped, an id part is empty, the partition column is not a top-level TIMESTAMP or
// DATE, the partition type is unknown, or a clustering column is missing, nested, repeated or
// of a type BigQuery cannot cluster on.
func NewTableSpec(md protoreflect.MessageDescriptor, project, dataset, table string, opts TableOptions) (TableSpec, error) {
	if project == "" || dataset == "" || table == "" {
		return TableSpec{}, fmt.Errorf("bigquery: table spec: project %q, dataset %q and table %q must all be set", project, dataset, table)
	}
	schema, err := typemap.BigQuery(md)
	if err != nil {
		return TableSpec{}, fmt.Errorf("bigquery: table spec %s: %w", table, err)
	}
	spec := TableSpec{
		Project: project, Dataset: dataset, Table: table, Schema: schema,
		Clustering:  slices.Clone(opts.ClusterBy),
		Description: opts.Description,
		Labels: map[string]string{
			LabelEvent: LabelValue(opts.Event), LabelOwner: LabelValue(opts.OwnerTeam),
			LabelStage: LabelValue(opts.Stage), LabelManaged: "true",
		},
		Removed: reservedPaths(md, "", 0),
	}
	for k, v := range spec.Labels {
		if v == "" {
			delete(spec.Labels, k)
		}
	}
	if opts.PartitionBy != "" {
		typ := strings.ToUpper(opts.PartitionType)
		if typ == "" {
			typ = PartitionDay
		}
		switch typ {
		case PartitionHour, PartitionDay, PartitionMonth, PartitionYear:
		default:
			return TableSpec{}, fmt.Errorf("bigquery: table spec %s: partition_type %q: want HOUR, DAY, MONTH or YEAR", table, opts.PartitionType)
		}
		col, ok := topLevel(schema, opts.PartitionBy)
		if !ok || col.Mode == typemap.BQRepeated || (col.Type != typemap.BQTimestamp && col.Type != typemap.BQDate) {
			return TableSpec{}, fmt.Errorf("bigquery: table spec %s: partition_by %q: want a top-level, non-repeated TIMESTAMP or DATE column", table, opts.PartitionBy)
		}
		spec.Partition = Partition{Field: opts.PartitionBy, Type: typ}
	} else if opts.PartitionType != "" {
		return TableSpec{}, fmt.Errorf("bigquery: table spec %s: partition_type %q without partition_by", table, opts.PartitionType)
	}
	if len(spec.Clustering) > maxClustering {
		return TableSpec{}, fmt.Errorf("bigquery: table spec %s: cluster_by names %d columns; BigQuery allows %d", table, len(spec.Clustering), maxClustering)
	}
	for _, c := range spec.Clustering {
		col, ok := topLevel(schema, c)
		if !ok || col.Mode == typemap.BQRepeated || !clusterable(col.Type) {
			return TableSpec{}, fmt.Errorf("bigquery: table spec %s: cluster_by %q: want a top-level, non-repeated column of a clusterable type (not RECORD, JSON, FLOAT or BYTES)", table, c)
		}
	}
	return spec, nil
}

func topLevel(schema []typemap.BQField, name string) (typemap.BQField, bool) {
	for _, f := range schema {
		if f.Name == name {
			return f, true
		}
	}
	return typemap.BQField{}, false
}

func clusterable(t string) bool {
	switch typemap.CanonicalBQType(t) {
	case typemap.BQRecord, typemap.BQJSON, typemap.BQFloat, typemap.BQBytes:
		return false
	}
	return true
}

// reservedPaths returns the dotted paths of names md and its nested records reserve. Maps and
// well-known types are not descended into: their columns are fixed by the mapping.
func reservedPaths(md protoreflect.MessageDescriptor, prefix string, depth int) []string {
	if depth > 15 { // BigQuery's nesting limit; also stops recursive messages
		return nil
	}
	var out []string
	names := md.ReservedNames()
	for i := 0; i < names.Len(); i++ {
		out = append(out, prefix+string(names.Get(i)))
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.IsMap() || fd.Message() == nil || strings.HasPrefix(string(fd.Message().FullName()), "google.") {
			continue
		}
		out = append(out, reservedPaths(fd.Message(), prefix+string(fd.Name())+".", depth+1)...)
	}
	slices.Sort(out)
	return out
}

// LabelValue turns s into a BigQuery label value: lowercase, every character outside
// [a-z0-9_-] replaced by '-', at most 63 characters. "feed/video_played" → "feed-video_played"
// (event and domain names are snake_case, so the '-' cannot be confused with one of theirs).
func LabelValue(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() == 63 {
			break
		}
	}
	return b.String()
}

// SchemaHash is a short content hash of a schema with its types canonicalised (INT64 and
// INTEGER hash alike), for describe and status: two tables with the same hash have the same
// columns, modes, types and descriptions.
func SchemaHash(schema []typemap.BQField) string {
	b, err := json.Marshal(canonical(schema))
	if err != nil {
		return ""
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// Facts are what `evctl describe` and status show about a table: its id, location and schema
// hash. location is "" when unknown (a table not created yet, in a dataset of default location).
func Facts(spec TableSpec, location string) map[string]string {
	f := map[string]string{"table_id": spec.ID(), "schema_hash": SchemaHash(spec.Schema)}
	if location != "" {
		f["location"] = location
	}
	return f
}

// ParseTableID splits "project.dataset.table". Project ids may contain a domain
// ("example.com:proj"), so the table and dataset are taken from the right.
func ParseTableID(id string) (project, dataset, table string, err error) {
	i := strings.LastIndexByte(id, '.')
	if i <= 0 {
		return "", "", "", fmt.Errorf("bigquery: table id %q: want project.dataset.table", id)
	}
	j := strings.LastIndexByte(id[:i], '.')
	if j <= 0 || i == len(id)-1 || j == i-1 {
		return "", "", "", fmt.Errorf("bigquery: table id %q: want project.dataset.table", id)
	}
	return id[:j], id[j+1 : i], id[i+1:], nil
}

func canonical(fs []typemap.BQField) []typemap.BQField {
	out := make([]typemap.BQField, len(fs))
	for i, f := range fs {
		f.Type = typemap.CanonicalBQType(f.Type)
		if f.Mode == "" {
			f.Mode = typemap.BQNullable
		}
		f.Fields = canonical(f.Fields)
		if len(f.Fields) == 0 {
			f.Fields = nil
		}
		out[i] = f
	}
	return out
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
	return TableSpec{}, fmt.Errorf("spec is %T, want bigquery.TableSpec", v)
}

// liveTable accepts a LiveTable or a non-nil *LiveTable.
func liveTable(v any) (LiveTable, error) {
	switch s := v.(type) {
	case LiveTable:
		return s, nil
	case *LiveTable:
		if s != nil {
			return *s, nil
		}
	}
	return LiveTable{}, fmt.Errorf("observed spec is %T, want bigquery.LiveTable", v)
}
