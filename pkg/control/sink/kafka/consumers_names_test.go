package kafka_test

import (
	"testing"

	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

func TestIsConsumersTopic(t *testing.T) {
	for topic, want := range map[string]bool{
		"prod.consumers.crm_nudges.dlq":     true,
		"prod.consumers..dlq":               false,
		"prod.consumers.crm_nudges":         false,
		"prod.consumers.orders.v1.dlq":      false, // an event of a domain named consumers
		"staging.consumers.crm_nudges.dlq":  false, // another environment's
		"prod.consumers.crm_nudges.dlq.dlq": false,
	} {
		if got := kafka.IsConsumersTopic("prod", topic); got != want {
			t.Errorf("IsConsumersTopic(prod, %s) = %v, want %v", topic, got, want)
		}
	}
}
