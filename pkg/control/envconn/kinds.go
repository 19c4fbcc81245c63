package envconn

import (
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
	"github.com/evctl/evctl/pkg/control/sink/clickhouse"
	"github.com/evctl/evctl/pkg/control/sink/consumers"
	"github.com/evctl/evctl/pkg/control/sink/counters"
	"github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

// CompiledKinds are the kinds whose wanted resources come from the compiled contract (its
// descriptor set, its message's columns), each event's from that event alone: the planner
// caches them per event and compiles only the events that changed. Every other kind wants its
// resources from the events' YAML alone (partitions, access, counters) and may look across
// events (a team's user, the milestones topic).
func CompiledKinds() map[string]bool {
	return kindSet(descriptor.Def{}, bigquery.Def{}, delta.Def{}, clickhouse.TableDef{}, clickhouse.ViewDef{})
}

// CheapKinds are the kinds whose Observe costs one or two requests whatever the number of
// resources (the descriptor index, every ACL, the teams' users, the few counters and consumer
// resources): a fast plan reads them in full (plan.FastOptions.ObserveAll).
func CheapKinds() map[string]bool {
	return kindSet(descriptor.Def{}, kafka.UserDef{}, kafka.ACLDef{}, counters.Def{}, consumers.Def{})
}

func kindSet(defs ...interface{ Kind() string }) map[string]bool {
	m := make(map[string]bool, len(defs))
	for _, d := range defs {
		m[d.Kind()] = true
	}
	return m
}
