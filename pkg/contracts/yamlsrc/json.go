package yamlsrc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// ToJSON renders a YAML node as JSON, keeping key order and turning scalars into the JSON type
// their YAML tag says (so `watch_ms: 1200` is a number and `event_time: 2026-11-01T10:00:00Z` a
// string). Used for the `examples` of a contract, which are JSON events written in YAML.
func ToJSON(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, n, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("line %d: nested deeper than %d levels", n.Line, MaxDepth)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			b.WriteString("null")
			return nil
		}
		return writeJSON(b, n.Content[0], depth)
	case yaml.AliasNode:
		return fmt.Errorf("line %d: aliases are not allowed in examples", n.Line)
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			b.Write(k)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1], depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			b.WriteString("null")
		case "!!bool":
			v, err := strconv.ParseBool(n.Value)
			if err != nil {
				var x bool
				if err := n.Decode(&x); err != nil {
					return err
				}
				v = x
			}
			b.WriteString(strconv.FormatBool(v))
		case "!!int", "!!float":
			if json.Valid([]byte(n.Value)) {
				b.WriteString(n.Value)
				return nil
			}
			var f float64
			if err := n.Decode(&f); err != nil {
				return err
			}
			switch {
			case math.IsNaN(f):
				// NaN and infinities have no JSON number; protojson takes them by these names.
				b.WriteString(`"NaN"`)
			case math.IsInf(f, 1):
				b.WriteString(`"Infinity"`)
			case math.IsInf(f, -1):
				b.WriteString(`"-Infinity"`)
			default:
				out, _ := json.Marshal(f)
				b.Write(out)
			}
		default:
			s, _ := json.Marshal(n.Value)
			b.Write(s)
		}
	}
	return nil
}
