package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
)

// Draft is the JSON Schema dialect of every schema here.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// Kinds are the documents a schema exists for, in the order `evctl schema` lists them.
var Kinds = []string{"evctl-yaml", "event", "consumer"}

// kind describes how to generate one schema.
type kind struct {
	root        reflect.Type
	title, desc string
	// required lists the keys a document must have, per struct type.
	required map[reflect.Type][]string
	// topExtra are keys allowed at the top level besides the struct's (settings a feature reads
	// from Project.Extra).
	topExtra []string
	// oneKey are struct types of which a document sets exactly one key.
	oneKey map[reflect.Type]bool
}

func kinds() map[string]kind {
	return map[string]kind{
		"evctl-yaml": {
			root: reflect.TypeFor[config.Project](), title: "evctl.yaml",
			desc:     "evctl project settings: naming, platform fields, teams, environments.",
			required: map[reflect.Type][]string{reflect.TypeFor[config.Project](): {"version"}},
			topExtra: []string{"catalog"},
		},
		"event": {
			root: reflect.TypeFor[contract.Event](), title: "evctl event contract",
			desc: "One event: contracts/<domain>/<event>.yaml.",
			required: map[reflect.Type][]string{
				reflect.TypeFor[contract.Event](): {"name", "owner"},
				reflect.TypeFor[contract.Field](): {"name"},
			},
		},
		"consumer": {
			root: reflect.TypeFor[consumer.Consumer](), title: "evctl consumer",
			desc: "One consumer: consumers/<name>.yaml (routing and transformation of events).",
			required: map[reflect.Type][]string{
				reflect.TypeFor[consumer.Consumer](): {"name", "owner", "events", "transform", "deliver"},
				reflect.TypeFor[consumer.HTTP]():     {"url_env"},
				reflect.TypeFor[consumer.Kafka]():    {"topic"},
			},
			oneKey: map[reflect.Type]bool{reflect.TypeFor[consumer.Deliver](): true},
		},
	}
}

// For returns the JSON Schema of kind (one of Kinds), indented.
func For(k string) ([]byte, error) {
	kd, ok := kinds()[k]
	if !ok {
		return nil, fmt.Errorf("schema: unknown kind %q (one of %s)", k, strings.Join(Kinds, ", "))
	}
	g := &gen{kind: kd, defs: map[string]any{}, names: map[reflect.Type]string{}}
	root := g.object(kd.root, true)
	root["$schema"] = Draft
	root["$id"] = "urn:evctl:schema:" + k // no URL: the schema is printed by evctl, not served
	root["title"] = kd.title
	root["description"] = kd.desc
	if len(g.defs) > 0 {
		root["$defs"] = g.defs
	}
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return append(b, '\n'), nil
}

type gen struct {
	kind  kind
	defs  map[string]any
	names map[reflect.Type]string
}

var unmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// of returns the schema of a value of type t.
func (g *gen) of(t reflect.Type) map[string]any {
	if reflect.PointerTo(t).Implements(unmarshaler) || t.Implements(unmarshaler) {
		return map[string]any{"description": "Decoded by evctl in more than one shape; checked by evctl lint."}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem())
	case reflect.String:
		// evctl's YAML decoder reads an unquoted number into a string field as written
		// (retention: -1, sum: 1), so an editor must not flag it.
		return map[string]any{"type": []string{"string", "number"}}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		elem := g.of(t.Elem())
		if t.Elem().Kind() == reflect.String {
			// YAML writes "2" or true unquoted in a map of strings (Kafka configs, where
			// filters); evctl reads them as written.
			elem = map[string]any{"type": []string{"string", "number", "boolean"}}
		}
		return map[string]any{"type": "object", "additionalProperties": elem}
	case reflect.Struct:
		name := g.names[t]
		if name == "" {
			name = t.Name()
			if name == "" || g.defs[name] != nil {
				name = fmt.Sprintf("%s_%d", strings.ReplaceAll(t.String(), ".", "_"), len(g.defs))
			}
			g.names[t] = name
			g.defs[name] = true // reserved while building: types may be recursive (Field)
			g.defs[name] = g.object(t, false)
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	}
	return map[string]any{}
}

// object is the schema of struct t's mapping: its yaml keys, no others unless an inline map
// keeps them (then only x- keys, and topExtra at the top).
func (g *gen) object(t reflect.Type, top bool) map[string]any {
	props := map[string]any{}
	open := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if strings.Contains(opts, "inline") {
			open = open || f.Type.Kind() == reflect.Map
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		props[name] = g.of(f.Type)
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if open {
		s["patternProperties"] = map[string]any{"^" + config.ExtensionPrefix: map[string]any{}}
		if top {
			for _, k := range g.kind.topExtra {
				props[k] = map[string]any{}
			}
		}
	}
	if g.kind.oneKey[t] {
		s["minProperties"], s["maxProperties"] = 1, 1
	}
	if req := g.kind.required[t]; len(req) > 0 {
		req = append([]string(nil), req...)
		sort.Strings(req)
		s["required"] = req
	}
	return s
}
