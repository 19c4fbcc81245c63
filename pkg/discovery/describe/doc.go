// Package describe gathers everything about one event into a Report: the repository's facts
// (owner, stage, description, effective contract, sinks, producers and consumers, links) and,
// for an environment, the live ones (each resource's status from state, consumer groups and
// their lag, recent throughput, the audit records that touched it). What cannot be read is kept
// in the report as an error, so the rest still shows. It never changes anything and knows
// nothing about terminals or flags.
package describe
