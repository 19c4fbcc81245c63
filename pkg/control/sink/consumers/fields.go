package consumers

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// defFieldDiff lists what changed between the published definition and the wanted one, field
// by field ("definition.transform", "definition.where.step", "definition.deliver.http.max_rps"),
// so a reviewer sees the change rather than two hashes. Nothing when either side is unknown
// (a create, a removal, a published definition that could not be read).
func defFieldDiff(c sink.Change) []sink.DiffEntry {
	l, err := live(c)
	if err != nil || l.Def == nil || c.Desired == nil {
		return nil
	}
	spec, err := definition(*c.Desired)
	if err != nil || spec == nil {
		return nil
	}
	have, want := flatten(l.Def), flatten(spec.Def)
	keys := map[string]bool{}
	for k := range have {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	paths := make([]string, 0, len(keys))
	for k := range keys {
		if have[k] != want[k] {
			paths = append(paths, k)
		}
	}
	sort.Strings(paths)
	out := make([]sink.DiffEntry, 0, len(paths))
	for _, p := range paths {
		out = append(out, sink.DiffEntry{Path: "definition." + p, From: have[p], To: want[p]})
	}
	return out
}

// flatten is d's JSON form as dotted paths to scalar values; lists are one value (their JSON).
func flatten(d *descstore.ConsumerDef) map[string]string {
	b, err := json.Marshal(d)
	if err != nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, e)
			}
		case []any:
			b, _ := json.Marshal(x)
			out[prefix] = string(b)
		case string:
			out[prefix] = x
		default:
			out[prefix] = fmt.Sprint(x)
		}
	}
	walk("", m)
	return out
}
