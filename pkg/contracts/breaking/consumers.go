package breaking

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/transform"
)

// RuleConsumerFieldUsed: a prod change removes or retypes a field that a consumer
// (consumers/<name>.yaml) names in its template or its where filter (SPEC-dataplane 11).
const RuleConsumerFieldUsed = "EVCTL_CONSUMER_FIELD_USED"

// use is one field a consumer names, with where it names it.
type use struct {
	path string
	at   diag.Pos
}

// consumerRules reports, for a changed prod event, every field a consumer listing it uses (as
// resolved against the baseline, which is what the consumer was written against) that the
// current contract no longer has under that name, or has with another type or mode. Fields
// that were staging in the baseline are free to change, as for every other rule.
func consumerRules(consumers []*consumer.Consumer, pr *pair) []Finding {
	var out []Finding
	id := pr.ev.ID()
	for _, c := range consumers {
		if !slices.Contains(c.Events, id) {
			continue
		}
		for _, u := range consumerUses(c, pr.b.msg) {
			bf := resolve(pr.b.msg, u.path)
			if bf == nil || pr.bt.fieldStage(bf) != contract.StageProd {
				continue
			}
			cf := resolve(pr.c.msg, u.path)
			what := ""
			switch {
			case cf == nil:
				what = "removes it"
			case typeOf(cf) != typeOf(bf):
				what = fmt.Sprintf("changes its type from %s to %s", typeOf(bf), typeOf(cf))
			default:
				continue
			}
			field := strings.ReplaceAll(u.path, "[]", "")
			out = append(out, newFinding(id, field, RuleConsumerFieldUsed, fieldPos(pr.ev, field),
				fmt.Sprintf("consumer %s uses field %s (%s), and this change %s; its deliveries would break", c.Name, field, u.at, what)))
		}
	}
	return out
}

// consumerUses lists the fields c's where and template name in md, each once (its first use),
// sorted by path. A template that does not parse names nothing here: lint reports it.
func consumerUses(c *consumer.Consumer, md protoreflect.MessageDescriptor) []use {
	seen := map[string]bool{}
	var out []use
	add := func(path string, at diag.Pos) {
		if !seen[path] {
			seen[path] = true
			out = append(out, use{path: path, at: at})
		}
	}
	keys := make([]string, 0, len(c.Where))
	for k := range c.Where {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(k, c.Pos("where."+k))
	}
	if tpl, err := transform.Parse(c.Transform, transform.Options{}); err == nil {
		refs, _ := tpl.Check(md)
		for _, r := range refs {
			add(r.Path, c.TransformPos(r.Line, r.Col))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// resolve follows a template path ("device.model", "items[].sku") through md's fields by name.
func resolve(md protoreflect.MessageDescriptor, path string) protoreflect.FieldDescriptor {
	var fd protoreflect.FieldDescriptor
	for i, seg := range strings.Split(path, ".") {
		if i > 0 {
			if fd == nil || fd.Message() == nil || fd.IsMap() {
				return nil
			}
			md = fd.Message()
		}
		fd = md.Fields().ByName(protoreflect.Name(strings.TrimSuffix(seg, "[]")))
		if fd == nil {
			return nil
		}
	}
	return fd
}

// typeOf is what a template sees of a field's type: its kind (with the record or enum it names)
// and whether it is a list or a map.
func typeOf(fd protoreflect.FieldDescriptor) string {
	t := fd.Kind().String()
	switch {
	case fd.IsMap():
		return "map<" + typeOf(fd.MapKey()) + ", " + typeOf(fd.MapValue()) + ">"
	case fd.Message() != nil:
		t = string(fd.Message().Name())
	case fd.Enum() != nil:
		t = "enum " + string(fd.Enum().Name())
	}
	if fd.IsList() {
		t = "repeated " + t
	}
	return t
}
