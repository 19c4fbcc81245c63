package route

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a consumer's delivery collectors, served on /metrics beside the worker's.
type metrics struct {
	delivered, deadLettered, filtered, retries prometheus.Counter
	attempt                                    prometheus.Observer
}

// newMetrics registers the collectors; queued reports the events waiting in the lanes.
func newMetrics(reg prometheus.Registerer, name string, queued func() float64) *metrics {
	labels := prometheus.Labels{"consumer": name}
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evctl_route_deliveries_total",
		Help: "Events delivered (outcome=delivered) or sent to the consumer's DLQ (outcome=dead_lettered)."}, []string{"consumer", "outcome"})
	filtered := prometheus.NewCounter(prometheus.CounterOpts{Name: "evctl_route_filtered_total",
		Help: "Events the consumer's where filter dropped.", ConstLabels: labels})
	retries := prometheus.NewCounter(prometheus.CounterOpts{Name: "evctl_route_retries_total",
		Help: "Failed attempts that were retried (429, 5xx, timeouts, retriable Kafka errors).", ConstLabels: labels})
	attempt := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "evctl_route_attempt_seconds",
		Help: "Duration of one delivery attempt (HTTP request or Kafka produce).", ConstLabels: labels,
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	waiting := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "evctl_route_queued",
		Help: "Events rendered and waiting in the lanes (not yet delivered or dead-lettered).", ConstLabels: labels}, queued)
	if reg != nil {
		reg.MustRegister(deliveries, filtered, retries, attempt, waiting)
	}
	return &metrics{delivered: deliveries.WithLabelValues(name, "delivered"), deadLettered: deliveries.WithLabelValues(name, "dead_lettered"),
		filtered: filtered, retries: retries, attempt: attempt}
}
