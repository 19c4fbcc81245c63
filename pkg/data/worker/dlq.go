package worker

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead-letter headers (SPEC-dataplane section 8), added to the record's own headers.
const (
	HeaderDLQReason    = "evctl-dlq-reason"
	HeaderDLQWorker    = "evctl-dlq-worker"
	HeaderDLQTopic     = "evctl-dlq-topic"
	HeaderDLQPartition = "evctl-dlq-partition"
	HeaderDLQOffset    = "evctl-dlq-offset"
)

// DLQTopic is the dead-letter topic of a topic.
func DLQTopic(topic string) string { return topic + ".dlq" }

// deadLetter writes r to its topic's DLQ, retrying with backoff until Kafka acknowledges it or
// ctx ends; only then is the record done. It returns whether the record was written.
func (w *Worker) deadLetter(ctx context.Context, r *kgo.Record, reason string) bool {
	out := &kgo.Record{
		Topic: DLQTopic(r.Topic),
		Key:   r.Key,
		Value: r.Value,
		Headers: append(append([]kgo.RecordHeader{}, r.Headers...),
			kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(reason)},
			kgo.RecordHeader{Key: HeaderDLQWorker, Value: []byte(w.cfg.Name)},
			kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
			kgo.RecordHeader{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		),
	}
	for attempt := 0; ; attempt++ {
		err := w.cl.ProduceSync(ctx, out).FirstErr()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		w.waitOn(ctx, "dlq", err, attempt)
	}
	w.metrics.waitingFor.WithLabelValues("dlq").Set(0)
	w.metrics.dlq.WithLabelValues(r.Topic).Inc()
	w.next[TopicPartition{r.Topic, r.Partition}] = r.Offset + 1
	w.log.Warn("record dead-lettered", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", reason)
	return true
}
