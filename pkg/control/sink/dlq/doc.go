// Package dlq is the kafka_dlq_topic resource kind: the dead-letter topic "<topic>.dlq" of every
// event with a Kafka sink (SPEC-dataplane section 8), where a worker writes a record it cannot
// decode. One resource holds both the topic and its ACL entries, because the dead-letter topic
// has no life of its own: it is created after its source topic, shaped from it (the source's
// partitions and retention, 7 days when the source leaves retention to the broker, cleanup.policy
// delete) and readable and writable by the teams that can read the source. Observing, diffing
// and applying go through the kafka package's topic and ACL sinks; this package only decides
// what is wanted and puts the two halves together.
package dlq
