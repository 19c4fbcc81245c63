// Package sink defines what every provisioned resource kind implements (descriptor, kafka_topic,
// kafka_user, kafka_acl, bigquery_table, delta_table, clickhouse_table, clickhouse_view) and the
// values the planner and the apply engine pass between them: the wanted resources a kind builds
// from the compiled contracts (Def.Desire), its dependencies on other kinds (Def.DependsOn, from
// which apply's waves come), its ownership rules (Owner, default OwnRecorded), and the shared
// skeleton of a Diff (DiffEach). It owns no I/O itself and must not import the CLI, the planner
// or the apply engine: those sit above it and know no kind by name.
//
// # Adding a resource kind
//
// Write a package under pkg/control/sink/<kind>/ whose sink implements Sink: Kind; DependsOn
// (every kind that publishes per-event resources depends on descriptor.Kind, and names the
// resources it needs in Desired.DependsOn, e.g. descriptor.Ref(eventID)); Desire, which builds
// its resources from the Target (events hosted in the environment, evctl.yaml, the compiled
// descriptors; no I/O, and it must work without a connection, so put it on a zero-size Def type
// the connected sink embeds); Observe (batched, read-only); Diff (pure, through DiffEach);
// Apply (idempotent; add ApplyBatch when the system takes many at once). Implement Owner only
// when ownership is more than "recorded in this repository's state" (see kafka's users and
// ACLs), Namer so describe lists the event's resources by name, FactSource for facts worth
// showing in status/describe, Lister to report unmanaged resources. Then add one line to the
// wiring in pkg/control/envconn (its wiring func: the Def, and how the sink connects over the
// open environment, or sink.Unavailable/sink.Disabled over the Def when the system is
// unreachable or not configured). Run the shared suite from its tests:
// sinktest.Run(t, sinktest.Case{...}) against the real server the kind talks to. Nothing in
// the planner, the apply engine or the CLI changes.
package sink
