// Package contract owns the event contract model (contracts/<domain>/<event>.yaml) and reads it
// from disk with source positions. It validates only what it must to build the model; the
// rules about names, numbers, owners and sinks live in pkg/lint. It knows nothing of evctl.yaml,
// protos or sinks.
package contract

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/yamlsrc"
)

// Stages an event or a field can be in.
const (
	StageStaging = "staging"
	StageProd    = "prod"
)

// Field modes.
const (
	ModeNullable = "nullable"
	ModeRequired = "required"
	ModeRepeated = "repeated"
)

// Event is one contracts/<domain>/<event>.yaml.
type Event struct {
	Name        string       `yaml:"name"`
	Domain      string       `yaml:"domain"`
	Owner       Owner        `yaml:"owner"`
	Description string       `yaml:"description"`
	Stage       string       `yaml:"stage"`
	Major       int          `yaml:"major"`
	Schema      Schema       `yaml:"schema"`
	Sinks       Sinks        `yaml:"sinks"`
	Ingestion   Ingestion    `yaml:"ingestion"`
	Access      Access       `yaml:"access"`
	Examples    []Example    `yaml:"examples"`
	Waivers     []Waiver     `yaml:"waivers"`
	Counters    []Counter    `yaml:"counters"`
	Links       Links        `yaml:"links"`
	Doc         *yamlsrc.Doc `yaml:"-"`
	// File is the path relative to the repository root, with forward slashes.
	File string `yaml:"-"`
	// Dir is the folder the file is in (its domain folder), e.g. "feed".
	Dir string `yaml:"-"`
}

// Links are URL templates or URLs shown by describe.
type Links map[string]string

// ID is "<domain>/<event>", the event's identity everywhere (index.json, plan, state).
func (e *Event) ID() string { return e.Domain + "/" + e.Name }

// Pos returns the position of the value at a YAML path in this event's file.
func (e *Event) Pos(path string) diag.Pos {
	if e.Doc == nil {
		return diag.Pos{File: e.File, Line: 1, Col: 1}
	}
	return e.Doc.Pos(path)
}

// KeyPos returns the position of the key at a YAML path in this event's file.
func (e *Event) KeyPos(path string) diag.Pos {
	if e.Doc == nil {
		return diag.Pos{File: e.File, Line: 1, Col: 1}
	}
	return e.Doc.KeyPos(path)
}

// Owner is the owning team and pod.
type Owner struct {
	Team string `yaml:"team"`
	Pod  string `yaml:"pod"`
}

// Schema is either the form path (Fields) or the upload path (Proto).
type Schema struct {
	Fields   []Field   `yaml:"fields"`
	Reserved Reserved  `yaml:"reserved"`
	Proto    *ProtoRef `yaml:"proto"`
}

// ProtoRef names a raw .proto (relative to the event's folder) and the event's message in it.
type ProtoRef struct {
	File    string `yaml:"file"`
	Message string `yaml:"message"`
}

// Field is one field of the form path.
type Field struct {
	Name        string      `yaml:"name"`
	Type        string      `yaml:"type"`
	Mode        string      `yaml:"mode"`
	Number      int         `yaml:"number"`
	Description string      `yaml:"description"`
	Values      []EnumValue `yaml:"values"`
	// Open lets an enum field carry numbers its values do not list (an enum that grows faster
	// than its consumers). By default the gateway refuses such numbers.
	Open      bool     `yaml:"open"`
	Fields    []Field  `yaml:"fields"`
	Reserved  Reserved `yaml:"reserved"`
	KeyType   string   `yaml:"key_type"`
	ValueType string   `yaml:"value_type"`
	Stage     string   `yaml:"stage"`
	// Path is the field's YAML path, e.g. "schema.fields[4].fields[0]", for positions.
	Path string `yaml:"-"`
}

// EffectiveMode returns Mode, defaulting to nullable.
func (f *Field) EffectiveMode() string {
	if f.Mode == "" {
		return ModeNullable
	}
	return f.Mode
}

// EnumValue is one enum value. In YAML either a bare name (numbered by position, from 1) or
// {name: X, number: N}, for enums whose values were removed and must keep their numbers.
type EnumValue struct {
	Name   string
	Number int
}

// YAMLHoldsInts lets yamlsrc check the number of {name, number} (yamlsrc.IntHolder).
func (*EnumValue) YAMLHoldsInts() {}

// UnmarshalYAML accepts a scalar name or a {name, number} mapping.
func (v *EnumValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		v.Name = n.Value
		return nil
	}
	var m struct {
		Name   string `yaml:"name"`
		Number int    `yaml:"number"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	v.Name, v.Number = m.Name, m.Number
	return nil
}

// Reserved holds reserved field numbers and names: `reserved: [7, 9-12, old_name]`.
type Reserved struct {
	Numbers []Range
	Names   []string
	// Paths of each entry, parallel to the YAML list, for positions.
	Items []ReservedItem
}

// Range is an inclusive range of field numbers.
type Range struct{ From, To int }

// ReservedItem is one entry as written.
type ReservedItem struct {
	Index int
	Value string
	Range Range
	Name  string
}

// YAMLHoldsInts lets yamlsrc check the numbers of the list (yamlsrc.IntHolder).
func (*Reserved) YAMLHoldsInts() {}

// UnmarshalYAML reads a list of numbers, ranges ("9-12") and names.
func (r *Reserved) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal !!%s `%s` into []reserved", n.Line, strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)}}
	}
	for i, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal !!%s `%s` into reserved entry", c.Line, strings.TrimPrefix(c.ShortTag(), "!!"), c.Value)}}
		}
		item := ReservedItem{Index: i, Value: c.Value}
		if a, b, ok := strings.Cut(c.Value, "-"); ok && c.ShortTag() == "!!str" {
			from, err1 := strconv.Atoi(strings.TrimSpace(a))
			to, err2 := strconv.Atoi(strings.TrimSpace(b))
			if err1 == nil && err2 == nil {
				item.Range = Range{from, to}
				r.Numbers = append(r.Numbers, item.Range)
				r.Items = append(r.Items, item)
				continue
			}
		}
		if num, err := strconv.Atoi(c.Value); err == nil && c.ShortTag() == "!!int" {
			item.Range = Range{num, num}
			r.Numbers = append(r.Numbers, item.Range)
		} else {
			item.Name = c.Value
			r.Names = append(r.Names, c.Value)
		}
		r.Items = append(r.Items, item)
	}
	return nil
}

// HasNumber reports whether num is reserved.
func (r Reserved) HasNumber(num int) bool {
	for _, rg := range r.Numbers {
		if num >= rg.From && num <= rg.To {
			return true
		}
	}
	return false
}

// HasName reports whether name is reserved.
func (r Reserved) HasName(name string) bool {
	for _, n := range r.Names {
		if n == name {
			return true
		}
	}
	return false
}

// Sinks configures each sink; a nil sink is not provisioned.
type Sinks struct {
	Kafka    *KafkaSink    `yaml:"kafka"`
	BigQuery *BigQuerySink `yaml:"bigquery"`
	Delta    *DeltaSink    `yaml:"delta"`
	// ClickHouse is the event's ClickHouse table and its analytics views (clickhouse.go).
	ClickHouse *ClickHouseSink `yaml:"clickhouse"`
}

// KafkaSink configures the event's topic.
type KafkaSink struct {
	Partitions int               `yaml:"partitions"`
	Retention  string            `yaml:"retention"`
	Key        []string          `yaml:"key"`
	Configs    map[string]string `yaml:"configs"`
}

// BigQuerySink configures the event's BigQuery table.
type BigQuerySink struct {
	PartitionBy   string   `yaml:"partition_by"`
	PartitionType string   `yaml:"partition_type"` // HOUR | DAY (default) | MONTH | YEAR
	ClusterBy     []string `yaml:"cluster_by"`
}

// DeltaSink configures the event's Delta table.
type DeltaSink struct {
	PartitionBy []string `yaml:"partition_by"`
}

// Ingestion is how the event reaches the warehouse.
type Ingestion struct {
	Mode    string `yaml:"mode"`
	Cadence string `yaml:"cadence"`
	// Flush: streaming commits at least this often (a duration, default 30s).
	Flush string `yaml:"flush"`
	// MaxRows: streaming also commits when this many rows are buffered (default 500000).
	MaxRows int `yaml:"max_rows"`
}

// Access lists the teams that may produce and consume the event.
type Access struct {
	Producers []string `yaml:"producers"`
	Consumers []string `yaml:"consumers"`
}

// Example is one sample event, written as YAML, checked as JSON.
type Example struct{ Node yaml.Node }

// UnmarshalYAML keeps the node as written.
func (x *Example) UnmarshalYAML(n *yaml.Node) error { x.Node = *n; return nil }

// JSON renders the example as a JSON object.
func (x *Example) JSON() ([]byte, error) { return yamlsrc.ToJSON(&x.Node) }

// Waiver accepts one breaking-change finding until it expires.
type Waiver struct {
	Rule       string `yaml:"rule"`
	Field      string `yaml:"field"`
	Reason     string `yaml:"reason"`
	ApprovedBy string `yaml:"approved_by"`
	Expires    string `yaml:"expires"`
}
