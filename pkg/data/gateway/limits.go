package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// maxMessageBytes is the one topic config the gateway reads.
const maxMessageBytes = "max.message.bytes"

// topicLimits returns the largest record each topic accepts: its max.message.bytes (which
// includes the broker default), capped by the producer's batch limit. Topics are described
// limitsPerRequest at a time; those that could not be are left out of the map and named in the
// error.
//
// Each request names the one config it needs and asks for no synonyms: kadm's
// DescribeTopicConfigs asks for every config of every topic with its synonyms, and looking each
// topic up in its answer is a scan of the answer; with 10,000 topics in use that made every
// poll allocate hundreds of megabytes (a third of the gateway's allocations while idle).
func topicLimits(ctx context.Context, cl *kgo.Client, topics []string) (map[string]int64, error) {
	out := make(map[string]int64, len(topics))
	var errs []error
	for len(topics) > 0 {
		chunk := topics[:min(len(topics), limitsPerRequest)]
		topics = topics[len(chunk):]
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := describeLimits(cctx, cl, chunk, out)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("gateway: describe %d topics: %w", len(chunk), err))
		}
	}
	return out, errors.Join(errs...)
}

// describeLimits asks for max.message.bytes of topics (one request, sharded by the client) and
// stores each topic's limit in out. A topic answered with an error, or not answered, is named
// in the returned error and left out of out.
func describeLimits(ctx context.Context, cl *kgo.Client, topics []string, out map[string]int64) error {
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, topic := range topics {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType = kmsg.ConfigResourceTypeTopic
		rr.ResourceName = topic
		rr.ConfigNames = []string{maxMessageBytes}
		req.Resources = append(req.Resources, rr)
	}
	answered := make(map[string]bool, len(topics))
	var errs []error
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			errs = append(errs, shard.Err)
			continue
		}
		for _, r := range shard.Resp.(*kmsg.DescribeConfigsResponse).Resources {
			answered[r.ResourceName] = true
			n, err := limitOf(r)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out[r.ResourceName] = n
		}
	}
	if len(errs) == 0 {
		for _, topic := range topics {
			if !answered[topic] {
				errs = append(errs, fmt.Errorf("gateway: describe topic %s: not in the answer", topic))
			}
		}
	}
	return errors.Join(errs...)
}

// limitOf reads one topic's limit from its DescribeConfigs answer.
func limitOf(r kmsg.DescribeConfigsResponseResource) (int64, error) {
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return 0, fmt.Errorf("gateway: describe topic %s: %w", r.ResourceName, err)
	}
	limit := int64(producerBatchMax)
	for _, c := range r.Configs {
		if c.Name != maxMessageBytes || c.Value == nil {
			continue
		}
		v, err := strconv.ParseInt(*c.Value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("gateway: topic %s: %s %q: %w", r.ResourceName, maxMessageBytes, *c.Value, err)
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
