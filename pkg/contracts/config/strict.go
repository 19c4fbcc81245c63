package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/yamlsrc"
)

// extensionKeys are the top-level keys evctl.yaml may hold that no field of Project names:
// settings read by one feature from Project.Extra (the Backstage catalog's).
var extensionKeys = map[string]bool{"catalog": true}

// ExtensionPrefix starts a key evctl ignores anywhere extra keys were allowed (the top level and
// an environment), for a team's own annotations, as in Compose files.
const ExtensionPrefix = "x-"

// strictKeys reports every key of evctl.yaml that evctl does not know, with a suggestion, where
// yamlsrc's decoding does not already: inside maps (teams.<name>, environments.<name>, ...) and
// at the levels whose struct keeps extra keys (Project, Environment), where only
// extensionKeys and x- keys are allowed (SPEC-dataplane 13: strict evctl.yaml).
func strictKeys(doc *yamlsrc.Doc) diag.List {
	var out diag.List
	if doc == nil || doc.Root == nil {
		return nil
	}
	walkKeys(doc, doc.Root, reflect.TypeOf(Project{}), true, true, &out)
	return out
}

// walkKeys checks the keys of n against t. decoded says yamlsrc reached n through struct fields
// and lists only, so it has reported n's unknown keys of closed structs itself; top says n is
// the document's top level.
func walkKeys(doc *yamlsrc.Doc, n *yaml.Node, t reflect.Type, decoded, top bool, out *diag.List) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields, open := structKeys(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			switch {
			case ok:
				walkKeys(doc, n.Content[i+1], ft, decoded, false, out)
			case open && (strings.HasPrefix(k.Value, ExtensionPrefix) || top && extensionKeys[k.Value]):
			case open || !decoded:
				out.Add(diag.Errorf(diag.Pos{File: doc.File, Line: k.Line, Col: k.Column}, yamlsrc.RuleUnknownKey,
					"unknown key %q%s", k.Value, suggestKey(k.Value, fields, open)))
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				walkKeys(doc, c, t.Elem(), decoded, false, out)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				walkKeys(doc, n.Content[i], t.Elem(), false, false, out)
			}
		}
	}
}

// structKeys are t's yaml keys and whether an inline map keeps other keys.
func structKeys(t reflect.Type) (map[string]reflect.Type, bool) {
	fields := map[string]reflect.Type{}
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
		fields[name] = f.Type
	}
	return fields, open
}

// suggestKey is " (did you mean "x"?)" for the closest known key within two edits, or a hint
// about x- keys where extra keys may be written.
func suggestKey(k string, fields map[string]reflect.Type, open bool) string {
	best, bestD := "", 3
	for f := range fields {
		if d := yamlsrc.EditDistance(k, f); d < bestD || (d == bestD && f < best) {
			best, bestD = f, d
		}
	}
	switch {
	case best != "":
		return fmt.Sprintf(" (did you mean %q?)", best)
	case open:
		return fmt.Sprintf(" (a key of your own starts with %q)", ExtensionPrefix)
	}
	return ""
}
