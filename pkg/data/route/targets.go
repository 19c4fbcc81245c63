package route

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/evctl/evctl/pkg/contracts/transform"
)

// Headers of a record delivered to a Kafka topic (deliver.kafka): the HTTP delivery's
// Content-Type, Idempotency-Key and evctl-event, as record headers.
const (
	HeaderContentType    = "content-type"
	HeaderIdempotencyKey = "idempotency-key"
	HeaderEvent          = "evctl-event"
	HeaderConsumer       = "evctl-consumer"
)

// target is where a consumer's rendered bodies go.
type target interface {
	// send makes one attempt within timeout.
	send(ctx context.Context, it item, timeout time.Duration) outcome
}

// outcome of one attempt.
type outcome struct {
	status     int           // HTTP status, 0 when there was no response (and for Kafka)
	ok         bool          // delivered
	err        string        // what went wrong
	retry      bool          // worth another attempt (429, 5xx, timeout, connection, retriable Kafka error)
	retryAfter time.Duration // the receiver's Retry-After, 0 when absent
}

func contentType(body []byte) string {
	if transform.IsJSON(body) {
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

// httpTarget posts each body to a URL.
type httpTarget struct {
	url     string // from url_env: often holds a token, never logged
	method  string
	headers map[string]string
	client  *http.Client
}

func (t *httpTarget) send(ctx context.Context, it item, timeout time.Duration) outcome {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, t.method, t.url, bytes.NewReader(it.body))
	if err != nil {
		return outcome{err: "cannot build the request: " + redact(err, t.url)}
	}
	for k, v := range t.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", contentType(it.body))
	req.Header.Set("Idempotency-Key", it.id)
	req.Header.Set(HeaderEvent, it.ev)
	resp, err := t.client.Do(req)
	if err != nil {
		return outcome{err: redact(err, t.url), retry: true}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	o := outcome{status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		o.ok = true
		return o
	}
	o.err = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(snippet))
	o.retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout
	o.retryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	return o
}

// retryAfter reads Retry-After as seconds or an HTTP date; never negative.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		// A year is past any max_backoff (which caps the wait) and keeps the product from
		// overflowing into a negative delay.
		return time.Duration(min(s, 365*24*3600)) * time.Second
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

// kafkaTarget produces each body to a topic, keyed by the event's key so the topic keeps the
// order per key that the consumer's input had.
type kafkaTarget struct {
	topic    string
	consumer string
	producer *kgo.Client
}

func (t *kafkaTarget) send(ctx context.Context, it item, timeout time.Duration) outcome {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r := &kgo.Record{Topic: t.topic, Key: it.rec.Key, Value: it.body, Headers: []kgo.RecordHeader{
		{Key: HeaderContentType, Value: []byte(contentType(it.body))},
		{Key: HeaderIdempotencyKey, Value: []byte(it.id)},
		{Key: HeaderEvent, Value: []byte(it.ev)},
		{Key: HeaderConsumer, Value: []byte(t.consumer)},
	}}
	err := t.producer.ProduceSync(actx, r).FirstErr()
	if err == nil {
		return outcome{ok: true}
	}
	o := outcome{err: fmt.Sprintf("kafka %s: %v", t.topic, err)}
	// Refusals that no retry changes (not authorised, too large, invalid) go to the DLQ at
	// once, like an HTTP 4xx; everything else (leader moves, timeouts, a topic apply has not
	// created yet) is retried.
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke) && !ke.Retriable && !errors.Is(err, kerr.UnknownTopicOrPartition):
		o.retry = false
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, context.DeadlineExceeded):
		o.retry, o.err = true, "timed out: "+o.err
	default:
		o.retry = true
	}
	return o
}
