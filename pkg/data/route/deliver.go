package route

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// deliver sends one item until it is delivered or dead-lettered; it returns an error only when
// ctx ended first (the partition is leaving or the worker stopping: the record stays
// uncommitted). Each attempt uses the consumer definition current at that moment, so a fixed
// receiver URL or a new retry policy applies to records already waiting.
func (h *Handler) deliver(ctx context.Context, it item) error {
	for attempt := 1; ; attempt++ {
		s := h.spec.Load()
		if s.limiter != nil {
			if err := s.limiter.Wait(ctx); err != nil {
				return err
			}
		}
		start := time.Now()
		last := s.target.send(ctx, it, s.timeout)
		h.metrics.attempt.Observe(time.Since(start).Seconds())
		if last.ok {
			h.delivered.Add(1)
			h.metrics.delivered.Inc()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !last.retry || attempt >= s.attempts {
			reason := last.err
			if last.retry {
				reason = fmt.Sprintf("gave up after %d attempts: %s", attempt, last.err)
			}
			return h.deadLetter(ctx, s, it, reason, attempt, last.status)
		}
		h.retries.Add(1)
		h.metrics.retries.Inc()
		wait := s.wait(attempt, last.retryAfter)
		h.log.Debug("route: retrying", "consumer", s.c.Name, "event_id", it.id, "attempt", attempt, "status", last.status, "wait", wait)
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// wait is the delay after a failed attempt: backoff doubled per attempt, capped at max_backoff,
// with full jitter over its upper half so receivers recovering from an outage are not hit in
// step; a Retry-After from the receiver wins (capped at max_backoff too).
func (s *spec) wait(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, s.maxBackoff)
	}
	d := s.backoff
	for i := 1; i < attempt && d < s.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// deadLetter writes the original record to the consumer's DLQ with why it was not delivered,
// retrying with backoff until Kafka acknowledges it: a record is never skipped.
func (h *Handler) deadLetter(ctx context.Context, s *spec, it item, reason string, attempts, status int) error {
	r := &kgo.Record{Topic: h.cfg.DLQ, Key: it.rec.Key, Value: it.rec.Value}
	r.Headers = append(r.Headers, it.rec.Headers...)
	r.Headers = append(r.Headers,
		kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDLQAttempts, Value: []byte(strconv.Itoa(attempts))},
		kgo.RecordHeader{Key: HeaderDLQLastStatus, Value: []byte(strconv.Itoa(status))},
		kgo.RecordHeader{Key: "evctl-dlq-worker", Value: []byte("route/" + s.c.Name)},
		kgo.RecordHeader{Key: "evctl-dlq-topic", Value: []byte(it.rec.Topic)},
		kgo.RecordHeader{Key: "evctl-dlq-partition", Value: []byte(strconv.Itoa(int(it.rec.Partition)))},
		kgo.RecordHeader{Key: "evctl-dlq-offset", Value: []byte(strconv.FormatInt(it.rec.Offset, 10))},
	)
	d := 100 * time.Millisecond
	for {
		err := h.cfg.Producer.ProduceSync(ctx, r).FirstErr()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.log.Warn("route: cannot write the DLQ; retrying (the record is not skipped)", "consumer", s.c.Name, "topic", r.Topic, "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return ctx.Err()
		}
		d = min(2*d, 30*time.Second)
	}
	h.deadLettered.Add(1)
	h.metrics.deadLettered.Inc()
	h.log.Warn("route: dead-lettered", "consumer", s.c.Name, "event_id", it.id, "attempts", attempts, "status", status, "reason", reason)
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
