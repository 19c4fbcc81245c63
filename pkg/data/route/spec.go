package route

import (
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/transform"
)

// spec is one consumer definition made ready to run: parsed template, delivery target and retry
// policy. A Handler swaps its spec atomically when the published definition changes (hot
// reload); records already rendered keep their body, every later attempt uses the new target
// and retry policy.
type spec struct {
	c          *consumer.Consumer
	tpl        *transform.Template
	target     target
	timeout    time.Duration
	backoff    time.Duration
	maxBackoff time.Duration
	attempts   int
	limiter    *rate.Limiter // nil: no max_rps
}

// compile checks a consumer definition (what lint checks, again at run time) and builds its
// spec. url is the value of deliver.http.url_env (ignored for Kafka delivery).
func compile(c *consumer.Consumer, url string, producer *kgo.Client, client *http.Client) (*spec, error) {
	if c == nil {
		return nil, fmt.Errorf("route: no consumer definition")
	}
	tpl, err := transform.Parse(c.Transform, transform.Options{})
	if err != nil {
		return nil, fmt.Errorf("route: consumer %s: %w", c.Name, err)
	}
	s := &spec{c: c, tpl: tpl, attempts: c.Retry.Attempts(), timeout: consumer.DefaultTimeout}
	if s.backoff, err = c.Retry.BackoffDuration(); err != nil {
		return nil, fmt.Errorf("route: consumer %s: %w", c.Name, err)
	}
	if s.maxBackoff, err = c.Retry.MaxBackoffDuration(); err != nil {
		return nil, fmt.Errorf("route: consumer %s: %w", c.Name, err)
	}
	switch d := c.Deliver; {
	case d.HTTP != nil && d.Kafka != nil:
		return nil, fmt.Errorf("route: consumer %s: deliver names both http and kafka; pick one", c.Name)
	case d.HTTP != nil:
		if url == "" {
			return nil, fmt.Errorf("route: consumer %s: %s is not set", c.Name, d.HTTP.URLEnv)
		}
		if s.timeout, err = d.HTTP.HTTPTimeout(); err != nil {
			return nil, fmt.Errorf("route: consumer %s: %w", c.Name, err)
		}
		if rps := d.HTTP.MaxRPS; rps > 0 {
			s.limiter = rate.NewLimiter(rate.Limit(rps), max(1, int(rps)))
		}
		s.target = &httpTarget{url: url, method: d.HTTP.MethodOrDefault(), headers: d.HTTP.Headers, client: client}
	case d.Kafka != nil:
		if d.Kafka.Topic == "" {
			return nil, fmt.Errorf("route: consumer %s: deliver.kafka.topic is empty", c.Name)
		}
		if producer == nil {
			return nil, fmt.Errorf("route: consumer %s: no Kafka producer for deliver.kafka", c.Name)
		}
		s.target = &kafkaTarget{topic: d.Kafka.Topic, consumer: c.Name, producer: producer}
	default:
		return nil, fmt.Errorf("route: consumer %s: deliver names neither http nor kafka", c.Name)
	}
	return s, nil
}
