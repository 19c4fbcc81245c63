package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// producerBatchMax is franz-go's default ProducerBatchMaxBytes: a record whose batch would be
// larger is refused by the client before it reaches a broker. The gateway keeps the default
// because a larger batch limit than a topic's max.message.bytes would make the broker refuse
// whole batches of small records.
const producerBatchMax = 1000012

// batchOverhead is the v2 record batch header, which brokers count against max.message.bytes,
// plus the worst-case varints of one record's framing.
const batchOverhead = 61 + 6*5

// recordSize is an upper bound of the size of the batch holding only r, as a broker measures
// it against max.message.bytes (no compression: the gateway produces uncompressed).
func recordSize(r *kgo.Record) int64 {
	n := int64(batchOverhead + len(r.Key) + len(r.Value))
	for _, h := range r.Headers {
		n += int64(len(h.Key)+len(h.Value)) + 10
	}
	return n
}

// tooLargeError refuses a record before it is produced.
type tooLargeError struct{ size, limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("the record (%d bytes) is larger than the topic accepts (%d bytes, max.message.bytes)", e.size, e.limit)
}

// limitsPerRequest bounds the topics of one DescribeConfigs request.
const limitsPerRequest = 1000

// topicLimits returns the largest record each topic accepts: its max.message.bytes (which
// includes the broker default), capped by the producer's batch limit. Topics are described
// limitsPerRequest at a time; those that could not be are left out of the map and named in the
// error.
func topicLimits(ctx context.Context, cl *kgo.Client, topics []string) (map[string]int64, error) {
	out := make(map[string]int64, len(topics))
	var errs []error
	adm := kadm.NewClient(cl)
	for len(topics) > 0 {
		chunk := topics[:min(len(topics), limitsPerRequest)]
		topics = topics[len(chunk):]
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rcs, err := adm.DescribeTopicConfigs(cctx, chunk...)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("gateway: describe %d topics: %w", len(chunk), err))
			continue
		}
		for _, topic := range chunk {
			n, err := limitOf(rcs, topic)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out[topic] = n
		}
	}
	return out, errors.Join(errs...)
}

// limitOf reads one topic's limit from a DescribeConfigs answer.
func limitOf(rcs kadm.ResourceConfigs, topic string) (int64, error) {
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return 0, fmt.Errorf("gateway: describe topic %s: %w", topic, err)
	}
	if rc.Err != nil {
		return 0, fmt.Errorf("gateway: describe topic %s: %w", topic, rc.Err)
	}
	limit := int64(producerBatchMax)
	for _, c := range rc.Configs {
		if c.Key != "max.message.bytes" || c.Value == nil {
			continue
		}
		v, err := strconv.ParseInt(*c.Value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("gateway: topic %s: max.message.bytes %q: %w", topic, *c.Value, err)
		}
		limit = min(limit, v)
	}
	return limit, nil
}

// kafkaError maps a produce error to the answer: records Kafka will never take (too large,
// invalid, not authorized) get a 4xx so clients stop retrying; a permanent broker error that
// is none of those is a 500; only transient errors (timeouts, a broker away, a full buffer)
// are a 503 with Retry-After.
func kafkaError(err error) *apiError {
	var tl *tooLargeError
	var ke *kerr.Error
	switch {
	case errors.As(err, &tl):
		return refuse(http.StatusRequestEntityTooLarge, reasonTooLarge, "", err.Error())
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return refuse(http.StatusRequestEntityTooLarge, reasonTooLarge, "", "kafka refused the record as too large: "+err.Error())
	case errors.Is(err, kerr.InvalidRecord), errors.Is(err, kerr.CorruptMessage), errors.Is(err, kerr.InvalidTimestamp):
		return refuse(http.StatusBadRequest, reasonInvalid, "", "kafka refused the record: "+err.Error())
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return refuse(http.StatusForbidden, reasonForbidden, "", "the gateway may not write this event's topic: "+err.Error())
	case errors.As(err, &ke) && !ke.Retriable:
		return refuse(http.StatusInternalServerError, reasonRefused, "", "kafka refused the record: "+err.Error())
	}
	return refuse(http.StatusServiceUnavailable, reasonKafka, "", "kafka unavailable, retry: "+err.Error())
}
