// Package count is `evctl count` (SPEC-dataplane 12): engagement counters aggregated per
// (counter, key) in tumbling windows whose length is chosen by the key's value before the window
// opens, suppressed until the window closes, written once per key per window to a
// counterstore.Store together with the source partition's offset fence, then a changelog record
// and a record per milestone crossed.
//
// engine.go is the pure windowing engine (no I/O, time passed in); handler.go is the glue that
// makes it a set of callbacks on pkg/data/worker. Exactly once comes from the store: each write
// carries the partition's fence and, in its outbox, the still-open windows and the outputs of the
// write, so a restart resumes from the store, not from Kafka's committed offset.
//
// repartition.go routes a counter whose key is not its source topic's key through the counter's
// repartition topic, exactly once by source-offset marks kept with the fences.
//
// It must not import pkg/control/plan, pkg/control/apply or pkg/cli.
package count
