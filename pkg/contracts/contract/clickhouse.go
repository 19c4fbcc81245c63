package contract

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// ClickHouseSink configures the event's ClickHouse table (sinks.clickhouse).
type ClickHouseSink struct {
	// OrderBy names top-level scalar fields: the table's sorting key. Default [event_time].
	OrderBy []string `yaml:"order_by"`
	// TTL is how long rows live ("400d"); applied only where the server supports TTL.
	TTL string `yaml:"ttl"`
	// Views are materialized views over the table.
	Views []ClickHouseView `yaml:"views"`
}

// ClickHouseView is one analytics view: measures grouped by fields and time buckets.
type ClickHouseView struct {
	Name     string     `yaml:"name"`
	GroupBy  []GroupKey `yaml:"group_by"`
	Measures Measures   `yaml:"measures"`
}

// Time buckets a group_by key can take: {day: event_time}.
const (
	BucketDay    = "day"
	BucketHour   = "hour"
	BucketMinute = "minute"
)

// Measure functions.
const (
	MeasureCount = "count"
	MeasureSum   = "sum"
	MeasureMin   = "min"
	MeasureMax   = "max"
	MeasureUniq  = "uniq"
)

// GroupKey is one group_by entry: a field, or a time bucket of a timestamp field.
type GroupKey struct {
	Field  string
	Bucket string // "" for the field itself, else day | hour | minute
}

// Column is the key's column name in the view's table: the field, or "<bucket>" of a bucket
// ({day: event_time} → "day"), as Grapevine's dashboards name them.
func (k GroupKey) Column() string {
	if k.Bucket != "" {
		return k.Bucket
	}
	return k.Field
}

// UnmarshalYAML reads `field` or `{day|hour|minute: field}`.
func (k *GroupKey) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode:
		k.Field = n.Value
		return nil
	case n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[1].Kind == yaml.ScalarNode:
		k.Bucket, k.Field = n.Content[0].Value, n.Content[1].Value
		return nil
	}
	return typeError(n, "a group_by key (a field, or {day|hour|minute: field})")
}

// Measure is one named aggregate: count, or sum|min|max|uniq of a field.
type Measure struct {
	Name  string
	Func  string
	Field string // "" for count
	// Path is the measure's YAML path, for positions: "sinks.clickhouse.views[0].measures.views".
	Path string
}

// Measures keeps the order the YAML mapping lists them in, so the view's columns do too.
type Measures []Measure

// UnmarshalYAML reads `{name: count, other: {sum: field}, ...}`.
func (ms *Measures) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return typeError(n, "measures (a mapping of name: count | {sum|min|max|uniq: field})")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		m := Measure{Name: key.Value}
		switch {
		case val.Kind == yaml.ScalarNode:
			m.Func = val.Value
		case val.Kind == yaml.MappingNode && len(val.Content) == 2 && val.Content[1].Kind == yaml.ScalarNode:
			m.Func, m.Field = val.Content[0].Value, val.Content[1].Value
		default:
			return typeError(val, "a measure (count, or {sum|min|max|uniq: field})")
		}
		*ms = append(*ms, m)
	}
	return nil
}

// Shadowing returns why one of the view's column names would shadow a field its query reads, or
// "": in ClickHouse a SELECT alias replaces the column of that name everywhere in the query,
// and a materialized view's aliases must be its target's column names.
func (v ClickHouseView) Shadowing() string {
	for _, m := range v.Measures {
		for _, o := range v.Measures {
			if o.Name != m.Name && o.Field == m.Name {
				return fmt.Sprintf("measure %q is named like the field measure %q reads; rename one (a view column shadows the field of that name in its query)", m.Name, o.Name)
			}
		}
		for _, k := range v.GroupBy {
			if k.Field == m.Name {
				return fmt.Sprintf("measure %q is named like the group_by field %q; rename the measure", m.Name, k.Field)
			}
		}
	}
	for _, k := range v.GroupBy {
		if k.Bucket == "" {
			continue
		}
		for _, m := range v.Measures {
			if m.Field == k.Column() {
				return fmt.Sprintf("the %s bucket column is named like the field measure %q reads", k.Bucket, m.Name)
			}
		}
		for _, o := range v.GroupBy {
			if o.Bucket == "" && o.Field == k.Column() {
				return fmt.Sprintf("the %s bucket column is named like the group_by field %q", k.Bucket, o.Field)
			}
		}
	}
	return ""
}

func typeError(n *yaml.Node, want string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal !!%s into %s", n.Line, strings.TrimPrefix(n.ShortTag(), "!!"), want)}}
}
