// Package consumers is the "consumer" resource kind: what `evctl apply` provisions for each
// consumers/<name>.yaml (SPEC-dataplane 11) that reads an event the environment hosts.
//
// A consumer has up to three resources, all of kind "consumer" with event "consumer/<name>":
//
//   - "consumers/<name>": its published definition (descstore.ConsumerDef in the descriptor
//     store's consumers/index.json, content addressed) and the literal READ ACL of its team on
//     its consumer group evctl.<env>.consumer.<name>;
//   - its dead-letter topic "<env>.consumers.<name>.dlq", which its team may write and read;
//   - for deliver.kafka, the target topic, owned by its team (write and read).
//
// READ on the events' topics is the event's own kafka_acl resource: the consumer's team is one
// of the topic's readers (sink.Target.ReaderTeams), so one resource owns each topic's entries.
//
// Topics are observed, diffed and applied through the dlq package's topic-and-ACL sink. In one
// batch, removed definitions are unpublished first, topics applied next, and definitions
// published last, only once the consumer's topics in the batch succeeded, so a route worker never
// loads a definition whose dead-letter topic is missing.
package consumers
