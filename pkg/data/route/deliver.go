package route

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/contracts/transform"
)

// outcome of one attempt.
type outcome struct {
	status     int           // HTTP status, 0 when there was no response
	err        string        // what went wrong
	retry      bool          // worth another attempt (429, 5xx, timeout, connection)
	retryAfter time.Duration // the receiver's Retry-After, 0 when absent
}

// deliver sends one item until it is delivered, dead-lettered, or the context ends.
func (h *Handler) deliver(ctx context.Context, it item) error {
	var last outcome
	for attempt := 1; ; attempt++ {
		if h.limiter != nil {
			if err := h.limiter.Wait(ctx); err != nil {
				return err
			}
		}
		last = h.attempt(ctx, it)
		if last.status >= 200 && last.status < 300 {
			h.count(func(s *Stats) { s.Delivered++ })
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err() // stopping: the record stays pending, read again after a restart
		}
		if !last.retry || attempt >= h.attempts {
			reason := last.err
			if last.retry {
				reason = fmt.Sprintf("gave up after %d attempts: %s", attempt, last.err)
			}
			return h.deadLetter(ctx, it, reason, attempt, last.status)
		}
		h.count(func(s *Stats) { s.Retries++ })
		wait := h.wait(attempt, last.retryAfter)
		h.log.Debug("route: retrying", "consumer", h.cfg.Consumer.Name, "event_id", it.id, "attempt", attempt, "status", last.status, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// wait is the delay after a failed attempt: backoff doubled per attempt, capped at max_backoff,
// with full jitter over its upper half so receivers recovering from an outage are not hit in
// step; a Retry-After from the receiver wins (capped at max_backoff too).
func (h *Handler) wait(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, h.maxBackoff)
	}
	d := h.backoff
	for i := 1; i < attempt && d < h.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, h.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

func (h *Handler) attempt(ctx context.Context, it item) outcome {
	hc := h.cfg.Consumer.Deliver.HTTP
	actx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, hc.MethodOrDefault(), h.cfg.URL, bytes.NewReader(it.body))
	if err != nil {
		return outcome{err: "cannot build the request: " + redact(err, h.cfg.URL)}
	}
	for k, v := range hc.Headers {
		req.Header.Set(k, v)
	}
	if transform.IsJSON(it.body) {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	req.Header.Set("Idempotency-Key", it.id)
	req.Header.Set("evctl-event", it.ev)
	resp, err := h.http.Do(req)
	if err != nil {
		return outcome{err: redact(err, h.cfg.URL), retry: true}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	o := outcome{status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return o
	}
	o.err = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(snippet))
	o.retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout
	o.retryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	return o
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redact keeps the URL (it often holds a token) out of an error.
func redact(err error, url string) string {
	s := err.Error()
	if url != "" {
		s = string(bytes.ReplaceAll([]byte(s), []byte(url), []byte("<"+"url>")))
	}
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() {
		s = "timed out: " + s
	}
	return s
}

// deadLetter writes the original record to the consumer's DLQ with why it was not delivered.
func (h *Handler) deadLetter(ctx context.Context, it item, reason string, attempts, status int) error {
	r := &kgo.Record{Topic: DLQTopic(h.cfg.Env, h.cfg.Consumer.Name), Key: it.rec.Key, Value: it.rec.Value}
	r.Headers = append(r.Headers, it.rec.Headers...)
	r.Headers = append(r.Headers,
		kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDLQAttempts, Value: []byte(strconv.Itoa(attempts))},
		kgo.RecordHeader{Key: HeaderDLQLastStatus, Value: []byte(strconv.Itoa(status))},
		kgo.RecordHeader{Key: "evctl-dlq-topic", Value: []byte(it.rec.Topic)},
		kgo.RecordHeader{Key: "evctl-dlq-partition", Value: []byte(strconv.Itoa(int(it.rec.Partition)))},
		kgo.RecordHeader{Key: "evctl-dlq-offset", Value: []byte(strconv.FormatInt(it.rec.Offset, 10))},
	)
	if err := h.cfg.Producer.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("dlq %s: %w", r.Topic, err)
	}
	h.count(func(s *Stats) { s.DeadLettered++ })
	h.log.Warn("route: dead-lettered", "consumer", h.cfg.Consumer.Name, "event_id", it.id, "attempts", attempts, "status", status, "reason", reason)
	return nil
}

func (h *Handler) count(f func(*Stats)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.stats)
}
