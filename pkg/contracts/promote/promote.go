// Package promote moves an event, or some of its fields, from staging to prod in the event's
// YAML. It edits only the `stage` scalars, in place in the original bytes, so comments, key
// order, quoting and layout stay exactly as the author wrote them; it then re-parses the result
// and checks that nothing but those scalars changed. It does no linting and no I/O: the caller
// reads, checks and writes the file.
package promote

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/contract"
)

// Change is one edit Promote made (or would make).
type Change struct {
	// Path is the YAML path of the stage value: "stage", "schema.fields[2].stage".
	Path string `json:"path"`
	// Target is what moved: "event" or the dotted field path ("device.model").
	Target string `json:"target"`
	Line   int    `json:"line"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// ErrStagingEvent is returned when fields are promoted in an event that is still staging: a
// staging event has no prod fields.
var ErrStagingEvent = errors.New("promote: the event is still staging; promote the event first (a staging event has no prod fields)")

// Promote returns src with the event's stage set to prod (no fields given) or with each named
// field's stage set to prod (fields are dotted paths through records: "device.model"). A field
// without its own stage has the event's stage: in a prod event it is already prod and is left
// alone. It returns the changes made, none when everything named is prod already.
//
// Errors: unreadable YAML, an event without a stage key, an unknown field, fields of a staging
// event (ErrStagingEvent), or a stage value written in a form evctl cannot edit in place.
func Promote(file string, src []byte, fields []string) ([]byte, []Change, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, fmt.Errorf("promote: %s: %w", file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("promote: %s: expected a mapping at the top of the file", file)
	}
	root := doc.Content[0]
	stage := value(root, "stage")
	if stage == nil || stage.Kind != yaml.ScalarNode {
		return nil, nil, fmt.Errorf("promote: %s: the event has no stage; add `stage: staging` first", file)
	}
	var edits []*yaml.Node
	var changes []Change
	edit := func(n *yaml.Node, path, target string) error {
		switch n.Value {
		case contract.StageProd:
			return nil
		case contract.StageStaging:
		default:
			return fmt.Errorf("promote: %s:%d: %s has stage %q; only staging moves to prod", file, n.Line, target, n.Value)
		}
		edits = append(edits, n)
		changes = append(changes, Change{Path: path, Target: target, Line: n.Line, From: n.Value, To: contract.StageProd})
		return nil
	}
	if len(fields) == 0 {
		if err := edit(stage, "stage", "event"); err != nil {
			return nil, nil, err
		}
	} else if stage.Value != contract.StageProd {
		return nil, nil, fmt.Errorf("%w (%s)", ErrStagingEvent, file)
	}
	for _, f := range fields {
		n, path, err := findField(root, f)
		if err != nil {
			return nil, nil, fmt.Errorf("promote: %s: %w", file, err)
		}
		if s := value(n, "stage"); s != nil {
			if err := edit(s, path+".stage", f); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(edits) == 0 {
		return src, nil, nil
	}
	out, err := rewrite(src, edits)
	if err != nil {
		return nil, nil, fmt.Errorf("promote: %s: %w", file, err)
	}
	if err := verify(src, out, len(edits)); err != nil {
		return nil, nil, fmt.Errorf("promote: %s: %w", file, err)
	}
	return out, changes, nil
}

// value returns the value of key in a mapping node, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// findField walks schema.fields (and records' fields) by name.
func findField(root *yaml.Node, dotted string) (*yaml.Node, string, error) {
	list := value(value(root, "schema"), "fields")
	path := "schema.fields"
	if list == nil {
		return nil, "", fmt.Errorf("no field %q: the event has no schema.fields (a raw contract sets field stages with the (evctl.options.v1.stage) option)", dotted)
	}
	var node *yaml.Node
	for i, name := range strings.Split(dotted, ".") {
		if i > 0 {
			list = value(node, "fields")
			path += ".fields"
		}
		node = nil
		if list != nil && list.Kind == yaml.SequenceNode {
			for j, c := range list.Content {
				if n := value(c, "name"); n != nil && n.Value == name {
					node, path = c, fmt.Sprintf("%s[%d]", path, j)
					break
				}
			}
		}
		if node == nil {
			return nil, "", fmt.Errorf("no field %q in the event's schema", dotted)
		}
	}
	return node, path, nil
}

// rewrite replaces each staging scalar with prod in the original bytes, keeping its quotes.
func rewrite(src []byte, nodes []*yaml.Node) ([]byte, error) {
	type span struct{ at, n int }
	var spans []span
	for _, n := range nodes {
		at, err := offset(src, n.Line, n.Column)
		if err != nil {
			return nil, err
		}
		if q := n.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle); q != 0 {
			at++ // inside the quote
		}
		if !strings.HasPrefix(string(src[at:]), n.Value) {
			return nil, fmt.Errorf("line %d: cannot edit the stage value in place (written as %q)", n.Line, firstLine(src[at:]))
		}
		spans = append(spans, span{at, len(n.Value)})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].at > spans[j].at })
	out := append([]byte(nil), src...)
	for _, s := range spans {
		out = append(out[:s.at], append([]byte(contract.StageProd), out[s.at+s.n:]...)...)
	}
	return out, nil
}

// offset converts yaml.v3's 1-based line and column (counted in characters) to a byte offset.
func offset(src []byte, line, col int) (int, error) {
	at := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(string(src[at:]), '\n')
		if i < 0 {
			return 0, fmt.Errorf("line %d is past the end of the file", line)
		}
		at += i + 1
	}
	for c := 1; c < col; c++ {
		if at >= len(src) || src[at] == '\n' {
			return 0, fmt.Errorf("line %d has no column %d", line, col)
		}
		_, size := utf8.DecodeRune(src[at:])
		at += size
	}
	return at, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

// verify re-parses the output and checks that it is the input with exactly the edited scalars
// changed to prod: same structure, same keys, same comments.
func verify(src, out []byte, edits int) error {
	var a, b yaml.Node
	if err := yaml.Unmarshal(src, &a); err != nil {
		return err
	}
	if err := yaml.Unmarshal(out, &b); err != nil {
		return fmt.Errorf("the rewritten file does not parse: %w", err)
	}
	changed := 0
	if err := same(&a, &b, &changed); err != nil {
		return fmt.Errorf("the rewrite changed more than the stage: %w", err)
	}
	if changed != edits {
		return fmt.Errorf("the rewrite changed %d values, expected %d", changed, edits)
	}
	return nil
}

func same(a, b *yaml.Node, changed *int) error {
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Style != b.Style || len(a.Content) != len(b.Content) {
		return fmt.Errorf("line %d differs in shape", a.Line)
	}
	if a.HeadComment != b.HeadComment || a.LineComment != b.LineComment || a.FootComment != b.FootComment {
		return fmt.Errorf("line %d: a comment changed", a.Line)
	}
	if a.Value != b.Value {
		if a.Value != contract.StageStaging || b.Value != contract.StageProd {
			return fmt.Errorf("line %d: %q became %q", a.Line, a.Value, b.Value)
		}
		*changed++
	}
	for i := range a.Content {
		if err := same(a.Content[i], b.Content[i], changed); err != nil {
			return err
		}
	}
	return nil
}
