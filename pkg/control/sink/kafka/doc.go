// Package kafka provisions the Kafka resources of an event: topics (kind "kafka_topic"), per-team
// SCRAM users (kind "kafka_user") and least-privilege ACLs (kind "kafka_acl"). Each kind is a
// sink.Sink over one shared admin Client; all three observe and apply in batches (one admin
// request per operation for all resources of a plan, never one per resource).
//
// It owns the mapping from specs to Kafka admin requests, the per-team credential store
// (FileCredentials) and the naming of team users (UserName) and consumer groups (GroupPrefix).
// It must not import the CLI, the planner or the apply engine, must not read evctl.yaml or
// environment variables other than the documented EVCTL_KAFKA_PASSWORD_<TEAM> override, and must
// never put a password in a spec, a diff, an error or a log line.
package kafka
