package consumer

import (
	"maps"
	"slices"

	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Placement is where a consumer runs in one environment: the topics of the events the
// environment hosts, its consumer group, its dead-letter topic and, for deliver.kafka, the live
// name of its target topic.
type Placement struct {
	Topics map[string]string
	Group  string
	DLQ    string
	// KafkaTopic is the live target topic ("" for deliver.http).
	KafkaTopic string
}

// Definition is c as published to an environment's descriptor store (descstore.ConsumerDef):
// what `evctl route` runs without the repository.
func (c *Consumer) Definition(at Placement) *descstore.ConsumerDef {
	d := &descstore.ConsumerDef{
		Name: c.Name, Team: c.Owner.Team, Description: c.Description, File: c.File,
		Events: slices.Clone(c.Events), Topics: maps.Clone(at.Topics), Group: at.Group, DLQ: at.DLQ,
		Where: maps.Clone(c.Where), Transform: c.Transform,
		Retry: descstore.ConsumerRetry{MaxAttempts: c.Retry.MaxAttempts, Backoff: c.Retry.Backoff, MaxBackoff: c.Retry.MaxBackoff},
	}
	if d.Topics == nil {
		d.Topics = map[string]string{}
	}
	if h := c.Deliver.HTTP; h != nil {
		d.Deliver.HTTP = &descstore.ConsumerHTTP{URLEnv: h.URLEnv, Method: h.Method, Timeout: h.Timeout, MaxRPS: h.MaxRPS, Headers: maps.Clone(h.Headers)}
	}
	if k := c.Deliver.Kafka; k != nil {
		topic := at.KafkaTopic
		if topic == "" {
			topic = k.Topic
		}
		d.Deliver.Kafka = &descstore.ConsumerKafka{Topic: topic}
	}
	return d
}

// FromDefinition is a published definition as a Consumer (with no source positions; File is
// the repository file it was published from) and its placement.
func FromDefinition(d *descstore.ConsumerDef) (*Consumer, Placement) {
	c := &Consumer{
		Name: d.Name, Owner: Owner{Team: d.Team}, Description: d.Description, File: d.File,
		Events: slices.Clone(d.Events), Where: maps.Clone(d.Where), Transform: d.Transform,
		Retry: Retry{MaxAttempts: d.Retry.MaxAttempts, Backoff: d.Retry.Backoff, MaxBackoff: d.Retry.MaxBackoff},
	}
	at := Placement{Topics: maps.Clone(d.Topics), Group: d.Group, DLQ: d.DLQ}
	if h := d.Deliver.HTTP; h != nil {
		c.Deliver.HTTP = &HTTP{URLEnv: h.URLEnv, Method: h.Method, Timeout: h.Timeout, MaxRPS: h.MaxRPS, Headers: maps.Clone(h.Headers)}
	}
	if k := d.Deliver.Kafka; k != nil {
		c.Deliver.Kafka = &Kafka{Topic: k.Topic}
		at.KafkaTopic = k.Topic
	}
	return c, at
}

// Group is a consumer's consumer group in env (SPEC-dataplane 8: evctl.<env>.consumer.<name>).
func Group(env, name string) string { return "evctl." + env + ".consumer." + name }

// DLQTopic is a consumer's dead-letter topic in env (SPEC-dataplane 11).
func DLQTopic(env, name string) string { return env + ".consumers." + name + ".dlq" }
