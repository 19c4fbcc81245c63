package lint

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
)

// Rule IDs of sink rules.
const (
	RuleKafka    = "SINK_KAFKA"
	RuleBigQuery = "SINK_BIGQUERY"
	RuleDelta    = "SINK_DELTA"
)

// EventDate is the Delta partition column evctl derives from event_time.
const EventDate = "event_date"

// checkSinks checks what needs no compiled contract.
func checkSinks(_ *config.Project, ev *contract.Event) diag.List {
	var out diag.List
	if k := ev.Sinks.Kafka; k != nil {
		if k.Partitions <= 0 {
			out.Add(diag.Errorf(ev.Pos("sinks.kafka.partitions"), RuleKafka, "partitions must be more than 0"))
		}
		if k.Retention != "" {
			if _, err := contract.RetentionMillis(k.Retention); err != nil {
				out.Add(diag.Errorf(ev.Pos("sinks.kafka.retention"), RuleKafka, "%v", err))
			}
		}
		if _, ok := k.Configs["retention.ms"]; ok && k.Retention != "" {
			out.Add(diag.Errorf(ev.Pos("sinks.kafka.configs.retention.ms"), RuleKafka, "set retention or configs.retention.ms, not both"))
		}
	}
	out.Add(checkClickHouse(ev)...)
	if b := ev.Sinks.BigQuery; b != nil {
		switch b.PartitionType {
		case "", "HOUR", "DAY", "MONTH", "YEAR":
		default:
			out.Add(diag.Errorf(ev.Pos("sinks.bigquery.partition_type"), RuleBigQuery, "partition_type %q must be HOUR, DAY, MONTH or YEAR", b.PartitionType))
		}
		if len(b.ClusterBy) > 4 {
			out.Add(diag.Errorf(ev.Pos("sinks.bigquery.cluster_by"), RuleBigQuery, "cluster_by takes at most 4 fields; it has %d", len(b.ClusterBy)))
		}
	}
	return out
}

// checkSinkFields checks that sink settings name top-level fields of the right kind, against the
// compiled message, so it works the same on both authoring paths.
func checkSinkFields(ev *contract.Event, md protoreflect.MessageDescriptor) diag.List {
	var out diag.List
	fields := md.Fields()
	scalar := func(name string) (protoreflect.FieldDescriptor, string) {
		fd := fields.ByName(protoreflect.Name(name))
		switch {
		case fd == nil:
			return nil, fmt.Sprintf("%q is not a top-level field of the event", name)
		case fd.IsList() || fd.IsMap():
			return fd, fmt.Sprintf("%q is a list or map; it must be a single value", name)
		case fd.Kind() == protoreflect.MessageKind && !isTimeLike(fd):
			return fd, fmt.Sprintf("%q is a record; it must be a scalar", name)
		}
		return fd, ""
	}
	if k := ev.Sinks.Kafka; k != nil {
		for i, key := range k.Key {
			if _, why := scalar(key); why != "" {
				out.Add(diag.Errorf(ev.Pos(fmt.Sprintf("sinks.kafka.key[%d]", i)), RuleKafka, "key field %s", why))
			}
		}
	}
	if b := ev.Sinks.BigQuery; b != nil {
		if b.PartitionBy != "" {
			fd, why := scalar(b.PartitionBy)
			if why == "" && !isTimeLike(fd) {
				why = fmt.Sprintf("%q is not a timestamp or date field", b.PartitionBy)
			}
			if why != "" {
				out.Add(diag.Errorf(ev.Pos("sinks.bigquery.partition_by"), RuleBigQuery, "partition_by %s", why))
			}
		}
		for i, c := range b.ClusterBy {
			if _, why := scalar(c); why != "" {
				out.Add(diag.Errorf(ev.Pos(fmt.Sprintf("sinks.bigquery.cluster_by[%d]", i)), RuleBigQuery, "cluster_by %s", why))
			}
		}
	}
	out.Add(checkClickHouseFields(ev, md)...)
	if d := ev.Sinks.Delta; d != nil {
		for i, c := range d.PartitionBy {
			if c == EventDate {
				if fields.ByName("event_time") == nil {
					out.Add(diag.Errorf(ev.Pos(fmt.Sprintf("sinks.delta.partition_by[%d]", i)), RuleDelta, "event_date is derived from event_time, which this event lacks"))
				}
				continue
			}
			if _, why := scalar(c); why != "" {
				out.Add(diag.Errorf(ev.Pos(fmt.Sprintf("sinks.delta.partition_by[%d]", i)), RuleDelta, "partition_by %s", why))
			}
		}
	}
	return out
}

func isTimeLike(fd protoreflect.FieldDescriptor) bool {
	if fd.Kind() != protoreflect.MessageKind {
		return false
	}
	n := fd.Message().FullName()
	return n == "google.protobuf.Timestamp" || n == "google.type.Date"
}
