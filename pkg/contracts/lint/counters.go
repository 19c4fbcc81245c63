package lint

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// Rule IDs of counter rules (SPEC-dataplane 12), one analyzer each.
const (
	RuleCounterName       = "COUNTER_NAME"
	RuleCounterKey        = "COUNTER_KEY"
	RuleCounterWhere      = "COUNTER_WHERE"
	RuleCounterSum        = "COUNTER_SUM"
	RuleCounterWindows    = "COUNTER_WINDOWS"
	RuleCounterMilestones = "COUNTER_MILESTONES"
)

func counterPath(i int, rest string) string {
	if rest == "" {
		return fmt.Sprintf("counters[%d]", i)
	}
	return fmt.Sprintf("counters[%d].%s", i, rest)
}

// checkCounterNames: counter names are snake_case and unique in the repository (they name the
// changelog topic and the store's keys).
func checkCounterNames(ws *workspace.Workspace) diag.List {
	var out diag.List
	first := map[string]*contract.Event{}
	for _, ev := range ws.Events {
		for i, c := range ev.Counters {
			at := ev.Pos(counterPath(i, "name"))
			switch {
			case c.Name == "":
				out.Add(diag.Errorf(ev.Pos(counterPath(i, "")), RuleCounterName, "counter %d has no name", i+1))
			case !snake.MatchString(c.Name) || len(c.Name) > 64:
				out.Add(diag.Errorf(at, RuleCounterName, "counter name %q must be snake_case ([a-z][a-z0-9_]*, at most 64 characters)", c.Name))
			case first[c.Name] != nil:
				out.Add(diag.Errorf(at, RuleCounterName, "counter name %q is already used by %s", c.Name, first[c.Name].File))
			default:
				first[c.Name] = ev
			}
		}
	}
	return out
}

// checkCounterWindows: at least one tier; every parses; below strictly ascending and > 0 on all
// tiers but the last, which has no below (it takes every value above the others).
func checkCounterWindows(ev *contract.Event) diag.List {
	var out diag.List
	for i, c := range ev.Counters {
		if len(c.Windows) == 0 {
			out.Add(diag.Errorf(ev.Pos(counterPath(i, "")), RuleCounterWindows, "counter %q needs windows: at least one {every: 5s}", c.Name))
			continue
		}
		var prev int64
		for j, w := range c.Windows {
			at := fmt.Sprintf("windows[%d]", j)
			if _, err := w.Duration(); err != nil {
				out.Add(diag.Errorf(ev.Pos(counterPath(i, at+".every")), RuleCounterWindows, "counter %q window %d: %v", c.Name, j+1, err))
			}
			last := j == len(c.Windows)-1
			switch {
			case last && w.Below != 0:
				out.Add(diag.Errorf(ev.Pos(counterPath(i, at+".below")), RuleCounterWindows, "counter %q: the last window takes every value above the others; drop its below", c.Name))
			case !last && w.Below <= 0:
				out.Add(diag.Errorf(ev.Pos(counterPath(i, at)), RuleCounterWindows, "counter %q window %d needs below: a value more than 0 (only the last window has none)", c.Name, j+1))
			case !last && w.Below <= prev:
				out.Add(diag.Errorf(ev.Pos(counterPath(i, at+".below")), RuleCounterWindows, "counter %q: below must ascend; %d follows %d", c.Name, w.Below, prev))
			}
			if w.Below > prev {
				prev = w.Below
			}
		}
	}
	return out
}

// checkCounterMilestones: milestones are more than 0 and strictly ascending.
func checkCounterMilestones(ev *contract.Event) diag.List {
	var out diag.List
	for i, c := range ev.Counters {
		var prev int64
		for j, m := range c.Milestones {
			at := ev.Pos(counterPath(i, fmt.Sprintf("milestones[%d]", j)))
			switch {
			case m <= 0:
				out.Add(diag.Errorf(at, RuleCounterMilestones, "counter %q: milestone %d must be more than 0", c.Name, m))
			case m <= prev:
				out.Add(diag.Errorf(at, RuleCounterMilestones, "counter %q: milestones must ascend; %d follows %d", c.Name, m, prev))
			}
			prev = max(prev, m)
		}
	}
	return out
}

// checkCounterKey: the key is a top-level single-valued string, integer, bool or enum field.
func checkCounterKey(ev *contract.Event, md protoreflect.MessageDescriptor) diag.List {
	var out diag.List
	for i, c := range ev.Counters {
		if c.Key == "" {
			out.Add(diag.Errorf(ev.Pos(counterPath(i, "")), RuleCounterKey, "counter %q needs key: the top-level field a count belongs to", c.Name))
			continue
		}
		if why := keyableField(md, c.Key); why != "" {
			out.Add(diag.Errorf(ev.Pos(counterPath(i, "key")), RuleCounterKey, "counter %q key %s", c.Name, why))
		}
	}
	return out
}

// checkCounterWhere: each filtered field is a top-level scalar and the value fits its type.
func checkCounterWhere(ev *contract.Event, md protoreflect.MessageDescriptor) diag.List {
	var out diag.List
	for i, c := range ev.Counters {
		for _, name := range sortedKeys(c.Where) {
			at := ev.Pos(counterPath(i, "where."+name))
			if why := keyableField(md, name); why != "" {
				out.Add(diag.Errorf(at, RuleCounterWhere, "counter %q where %s", c.Name, why))
				continue
			}
			if why := valueFits(md.Fields().ByName(protoreflect.Name(name)), c.Where[name]); why != "" {
				out.Add(diag.Errorf(at, RuleCounterWhere, "counter %q where %s: %s", c.Name, name, why))
			}
		}
	}
	return out
}

// checkCounterSum: sum is 1 or names a top-level integer field.
func checkCounterSum(ev *contract.Event, md protoreflect.MessageDescriptor) diag.List {
	var out diag.List
	for i, c := range ev.Counters {
		if c.Counts() {
			continue
		}
		at := ev.Pos(counterPath(i, "sum"))
		if contract.IsInteger(c.Sum) {
			out.Add(diag.Errorf(at, RuleCounterSum, "counter %q: sum is 1 (count events) or a numeric field's name, not %s", c.Name, c.Sum))
			continue
		}
		fd := md.Fields().ByName(protoreflect.Name(c.Sum))
		switch {
		case fd == nil:
			out.Add(diag.Errorf(at, RuleCounterSum, "counter %q: sum %q is not a top-level field of the event", c.Name, c.Sum))
		case fd.IsList() || fd.IsMap() || !isIntegerKind(fd.Kind()):
			out.Add(diag.Errorf(at, RuleCounterSum, "counter %q: sum %q must be a single int32, int64, uint32 or uint64 field", c.Name, c.Sum))
		}
	}
	return out
}

// keyableField returns why name cannot be a counter key or filter field, or "".
func keyableField(md protoreflect.MessageDescriptor, name string) string {
	fd := md.Fields().ByName(protoreflect.Name(name))
	switch {
	case fd == nil:
		return fmt.Sprintf("%q is not a top-level field of the event", name)
	case fd.IsList() || fd.IsMap():
		return fmt.Sprintf("%q is a list or map; it must be a single value", name)
	case fd.Kind() == protoreflect.StringKind, fd.Kind() == protoreflect.BoolKind, fd.Kind() == protoreflect.EnumKind, isIntegerKind(fd.Kind()):
		return ""
	}
	return fmt.Sprintf("%q is a %s; it must be a string, integer, bool or enum", name, fd.Kind())
}

// valueFits returns why the YAML value v cannot equal a value of fd, or "".
func valueFits(fd protoreflect.FieldDescriptor, v string) string {
	switch {
	case fd.Kind() == protoreflect.EnumKind:
		if fd.Enum().Values().ByName(protoreflect.Name(v)) == nil {
			return fmt.Sprintf("%q is not a value of the enum", v)
		}
	case fd.Kind() == protoreflect.BoolKind:
		if v != "true" && v != "false" {
			return fmt.Sprintf("%q is not true or false", v)
		}
	case isIntegerKind(fd.Kind()):
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Sprintf("%q is not a whole number", v)
		}
	}
	return ""
}

func isIntegerKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind,
		protoreflect.Sint32Kind, protoreflect.Sint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		return true
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkCounterStore: counters.store is redis://host:port/db or file://path (SPEC-dataplane 12).
// The store packages open it; this only catches what can be seen in the file.
func checkCounterStore(at diag.Pos, env, raw string) diag.List {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return diag.List{diag.Errorf(at, ruleConfig, "environment %q: counters.store is not a URL", env)}
	case u.Scheme == "file" && strings.TrimPrefix(raw, "file://") == "":
		return diag.List{diag.Errorf(at, ruleConfig, "environment %q: counters.store %q names no folder", env, raw)}
	case u.Scheme != "file" && u.Scheme != "redis" && u.Scheme != "rediss":
		return diag.List{diag.Errorf(at, ruleConfig, "environment %q: counters.store %q must be redis://host:port/db or file://path", env, u.Redacted())}
	case u.User != nil:
		if _, has := u.User.Password(); has {
			return diag.List{diag.Errorf(at, ruleConfig, "environment %q: counters.store carries a password; name a variable in counters.password_env instead", env)}
		}
	}
	return nil
}
