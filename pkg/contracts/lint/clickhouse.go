package lint

import (
	"fmt"
	"regexp"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
)

// RuleClickHouse is the rule of sinks.clickhouse.
const RuleClickHouse = "SINK_CLICKHOUSE"

var viewName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// checkClickHouse checks sinks.clickhouse for what needs no compiled contract: the ttl parses,
// view and measure names are snake_case and unique, buckets and measure functions are known.
func checkClickHouse(ev *contract.Event) diag.List {
	var out diag.List
	c := ev.Sinks.ClickHouse
	if c == nil {
		return out
	}
	if c.TTL != "" {
		if ms, err := contract.RetentionMillis(c.TTL); err != nil || ms < 0 {
			out.Add(diag.Errorf(ev.Pos("sinks.clickhouse.ttl"), RuleClickHouse, "ttl %q: want a positive number and a unit (400d, 12h, 1w)", c.TTL))
		}
	}
	seenView := map[string]bool{}
	for i, v := range c.Views {
		vp := fmt.Sprintf("sinks.clickhouse.views[%d]", i)
		switch {
		case !viewName.MatchString(v.Name):
			out.Add(diag.Errorf(ev.Pos(vp+".name"), RuleClickHouse, "view name %q must be snake_case ([a-z][a-z0-9_]*), at most 64 characters", v.Name))
		case seenView[v.Name]:
			out.Add(diag.Errorf(ev.Pos(vp+".name"), RuleClickHouse, "view name %q is used twice", v.Name))
		}
		seenView[v.Name] = true
		if why := v.Shadowing(); why != "" {
			out.Add(diag.Errorf(ev.Pos(vp+".measures"), RuleClickHouse, "view %q: %s", v.Name, why))
		}
		if len(v.Measures) == 0 {
			out.Add(diag.Errorf(ev.Pos(vp), RuleClickHouse, "view %q has no measures", v.Name))
		}
		cols := map[string]string{}
		for j, k := range v.GroupBy {
			kp := fmt.Sprintf("%s.group_by[%d]", vp, j)
			switch k.Bucket {
			case "", contract.BucketDay, contract.BucketHour, contract.BucketMinute:
			default:
				out.Add(diag.Errorf(ev.Pos(kp), RuleClickHouse, "time bucket %q must be day, hour or minute", k.Bucket))
			}
			if prev, dup := cols[k.Column()]; dup {
				out.Add(diag.Errorf(ev.Pos(kp), RuleClickHouse, "group_by column %q is named twice (also %s)", k.Column(), prev))
			}
			cols[k.Column()] = "group_by"
		}
		for _, m := range v.Measures {
			switch {
			case !viewName.MatchString(m.Name):
				out.Add(diag.Errorf(ev.KeyPos(m.Path), RuleClickHouse, "measure name %q must be snake_case", m.Name))
			case cols[m.Name] != "":
				out.Add(diag.Errorf(ev.KeyPos(m.Path), RuleClickHouse, "measure name %q is also a %s column of the view", m.Name, cols[m.Name]))
			}
			cols[m.Name] = "measure"
			switch m.Func {
			case contract.MeasureCount:
				if m.Field != "" {
					out.Add(diag.Errorf(ev.Pos(m.Path), RuleClickHouse, "count takes no field (write `%s: count`)", m.Name))
				}
			case contract.MeasureSum, contract.MeasureMin, contract.MeasureMax, contract.MeasureUniq:
				if m.Field == "" {
					out.Add(diag.Errorf(ev.Pos(m.Path), RuleClickHouse, "%s needs a field: {%s: field}", m.Func, m.Func))
				}
			default:
				out.Add(diag.Errorf(ev.Pos(m.Path), RuleClickHouse, "measure %q: %q is not count, sum, min, max or uniq", m.Name, m.Func))
			}
		}
	}
	return out
}

// checkClickHouseFields checks sinks.clickhouse against the compiled message: order_by and
// group_by name top-level single-value fields, a time bucket a timestamp, and each measure's
// field fits it (sum: a number; min/max: a number, timestamp or date; uniq: any single value).
func checkClickHouseFields(ev *contract.Event, md protoreflect.MessageDescriptor) diag.List {
	var out diag.List
	c := ev.Sinks.ClickHouse
	if c == nil {
		return out
	}
	fields := md.Fields()
	single := func(name string) (protoreflect.FieldDescriptor, string) {
		fd := fields.ByName(protoreflect.Name(name))
		switch {
		case fd == nil:
			return nil, fmt.Sprintf("%q is not a top-level field of the event", name)
		case fd.IsList() || fd.IsMap():
			return fd, fmt.Sprintf("%q is a list or map; it must be a single value", name)
		case fd.Kind() == protoreflect.MessageKind && !isTimeLike(fd) && !isWrapper(fd):
			return fd, fmt.Sprintf("%q is a record; it must be a single value", name)
		}
		return fd, ""
	}
	for i, f := range c.OrderBy {
		if _, why := single(f); why != "" {
			out.Add(diag.Errorf(ev.Pos(fmt.Sprintf("sinks.clickhouse.order_by[%d]", i)), RuleClickHouse, "order_by %s", why))
		}
	}
	if len(c.OrderBy) == 0 && fields.ByName("event_time") == nil {
		out.Add(diag.Errorf(ev.Pos("sinks.clickhouse"), RuleClickHouse, "the table is ordered by event_time by default, which this event lacks; set order_by"))
	}
	if fd := fields.ByName("event_time"); fd == nil || !isTimestamp(fd) || fd.IsList() {
		out.Add(diag.Errorf(ev.Pos("sinks.clickhouse"), RuleClickHouse, "a ClickHouse table is partitioned by month of event_time, a timestamp field this event lacks"))
	}
	for i, v := range c.Views {
		for j, k := range v.GroupBy {
			fd, why := single(k.Field)
			if why == "" && k.Bucket != "" && !isTimestamp(fd) {
				why = fmt.Sprintf("%q is not a timestamp; a %s bucket needs one", k.Field, k.Bucket)
			}
			if why != "" {
				out.Add(diag.Errorf(ev.Pos(fmt.Sprintf("sinks.clickhouse.views[%d].group_by[%d]", i, j)), RuleClickHouse, "group_by %s", why))
			}
		}
		for _, m := range v.Measures {
			if m.Field == "" {
				continue
			}
			fd, why := single(m.Field)
			if why == "" {
				switch m.Func {
				case contract.MeasureSum:
					if !isNumber(fd) {
						why = fmt.Sprintf("%q is not a number; sum needs one", m.Field)
					}
				case contract.MeasureMin, contract.MeasureMax:
					if !isNumber(fd) && !isTimeLike(fd) {
						why = fmt.Sprintf("%q is not a number, timestamp or date; %s needs one", m.Field, m.Func)
					}
				}
			}
			if why != "" {
				out.Add(diag.Errorf(ev.Pos(m.Path), RuleClickHouse, "measure %s: %s", m.Name, why))
			}
		}
	}
	return out
}

func isTimestamp(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == "google.protobuf.Timestamp"
}

func isWrapper(fd protoreflect.FieldDescriptor) bool {
	if fd.Kind() != protoreflect.MessageKind {
		return false
	}
	v := fd.Message().Fields().ByName("value")
	return fd.Message().ParentFile() != nil && fd.Message().ParentFile().Package() == "google.protobuf" && v != nil && fd.Message().Fields().Len() == 1
}

func isNumber(fd protoreflect.FieldDescriptor) bool {
	if isWrapper(fd) {
		fd = fd.Message().Fields().ByName("value")
	}
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind,
		protoreflect.FloatKind, protoreflect.DoubleKind:
		return true
	}
	return false
}
