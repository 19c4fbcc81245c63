package scaffold

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// NewEvent describes an event to scaffold.
type NewEvent struct {
	Domain, Name string
	Team, Pod    string
	// Fields as given on the command line: name:type[:mode].
	Fields []string
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// Types evctl's form path accepts on the command line (records and maps need the YAML).
var cliTypes = map[string]bool{
	"string": true, "bool": true, "int32": true, "int64": true, "uint32": true, "uint64": true,
	"float": true, "double": true, "bytes": true, "timestamp": true, "date": true,
}

// Event writes contracts/<domain>/<name>.yaml under root, numbering fields from 1, and returns
// its path relative to root. It refuses bad names and types and never overwrites a file.
func Event(root string, ne NewEvent) (string, error) {
	if !snake.MatchString(ne.Domain) || !snake.MatchString(ne.Name) {
		return "", fmt.Errorf("new: %s/%s: domain and event names are snake_case ([a-z][a-z0-9_]*)", ne.Domain, ne.Name)
	}
	type field struct {
		Name   string `yaml:"name"`
		Type   string `yaml:"type"`
		Mode   string `yaml:"mode,omitempty"`
		Number int    `yaml:"number"`
	}
	fields := make([]field, 0, len(ne.Fields))
	seen := map[string]bool{}
	for i, spec := range ne.Fields {
		parts := strings.Split(spec, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return "", fmt.Errorf("new: --field %q: want name:type[:mode]", spec)
		}
		f := field{Name: parts[0], Type: parts[1], Number: i + 1}
		if len(parts) == 3 {
			f.Mode = parts[2]
		}
		switch {
		case !snake.MatchString(f.Name):
			return "", fmt.Errorf("new: --field %q: field names are snake_case", spec)
		case seen[f.Name]:
			return "", fmt.Errorf("new: --field %q: field %q given twice", spec, f.Name)
		case !cliTypes[f.Type]:
			return "", fmt.Errorf("new: --field %q: type %q is not one of string, bool, int32, int64, uint32, uint64, float, double, bytes, timestamp, date (add enums, records and maps in the YAML)", spec, f.Type)
		case f.Mode != "" && f.Mode != "nullable" && f.Mode != "required" && f.Mode != "repeated":
			return "", fmt.Errorf("new: --field %q: mode %q must be nullable, required or repeated", spec, f.Mode)
		}
		seen[f.Name] = true
		fields = append(fields, f)
	}
	doc := struct {
		Name   string `yaml:"name"`
		Domain string `yaml:"domain"`
		Owner  struct {
			Team string `yaml:"team"`
			Pod  string `yaml:"pod,omitempty"`
		} `yaml:"owner"`
		Description string `yaml:"description"`
		Stage       string `yaml:"stage"`
		Major       int    `yaml:"major"`
		Schema      struct {
			Fields []field `yaml:"fields"`
		} `yaml:"schema"`
		Sinks struct {
			Kafka map[string]any `yaml:"kafka"`
		} `yaml:"sinks"`
		Access map[string][]string `yaml:"access"`
	}{Name: ne.Name, Domain: ne.Domain, Description: "TODO: what happened, in one sentence.", Stage: "staging", Major: 1}
	doc.Owner.Team, doc.Owner.Pod = ne.Team, ne.Pod
	doc.Schema.Fields = fields
	doc.Sinks.Kafka = map[string]any{"partitions": 3, "retention": "7d"}
	doc.Access = map[string][]string{"producers": {ne.Team}, "consumers": {}}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("new: %w", err)
	}
	rel := filepath.ToSlash(filepath.Join("contracts", ne.Domain, ne.Name+".yaml"))
	dst := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("new: %w", err)
	}
	if err := writeNew(dst, out); err != nil {
		if os.IsExist(err) {
			return "", fmt.Errorf("new: %s already exists", rel)
		}
		return "", fmt.Errorf("new: %w", err)
	}
	return rel, nil
}
