// Package counters is the kafka_counter_topic resource kind: the Kafka topics of the engagement
// counters (SPEC-dataplane section 12) that `evctl apply` provisions. Every counter declared in a
// hosted event has its compacted changelog "<env>.counters.<name>.changelog"; an environment with
// any counter has one milestones topic "<env>.counters.milestones", whose resource also publishes
// the evctl-owned contract evctl.counters.v1.Milestone in the descriptor store's index (as the
// event "evctl/counter_milestone"), so `evctl tail` decodes milestones like any other event.
//
// A resource holds a topic and its ACL entries (and, for the milestones topic, the index entry),
// created after the source topics it derives from. Topics and ACLs are observed, diffed and
// applied through the dlq package's topic-and-ACL sink (itself over the kafka package's sinks);
// this package decides what is wanted, owns the milestone contract's compilation (which
// pkg/data/count uses for the records it produces) and the index entry.
package counters
