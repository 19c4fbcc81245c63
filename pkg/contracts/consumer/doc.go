// Package consumer owns the consumer model (consumers/<name>.yaml, SPEC-dataplane 11): which
// events a consumer takes, the equality filter, the text/template transform, where the rendered
// body is delivered (HTTP or Kafka) and how failures are retried. It reads the files with source
// positions like pkg/contracts/contract; the rules about what the fields mean (known events,
// teams, template fields) live in pkg/contracts/lint.
package consumer
