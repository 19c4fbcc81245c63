package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Rejection reasons, the `reason` label of evctl_gateway_rejected_total.
const (
	reasonInvalid      = "invalid"       // 400: the event does not match its contract
	reasonUnknownEvent = "unknown_event" // 404
	reasonTooLarge     = "too_large"     // 413
	reasonUnauth       = "unauthenticated"
	reasonForbidden    = "forbidden"
	reasonKafka        = "kafka_unavailable" // 503
	reasonRefused      = "kafka_refused"     // 500: a permanent broker error not mapped to a 4xx
	// reasonDescriptors: 503, the event's descriptor set could not be fetched or built.
	reasonDescriptors = "descriptors_unavailable"
)

type metrics struct {
	reg          *prometheus.Registry
	accepted     *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	produce      prometheus.Histogram
	generation   prometheus.Gauge
	events       prometheus.Gauge
	reloadErrors prometheus.Counter
	loads        prometheus.Counter
	evictions    prometheus.Counter
	loadedBytes  prometheus.Gauge
	producers    prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.accepted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "evctl_gateway_accepted_total", Help: "Events acknowledged by Kafka, per event.",
	}, []string{"event"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "evctl_gateway_rejected_total", Help: "Events refused, per reason.",
	}, []string{"reason"})
	m.produce = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "evctl_gateway_produce_seconds", Help: "Time from handing a record to the producer to its acknowledgement.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
	m.generation = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "evctl_gateway_registry_generation", Help: "Generation of the registry in use; it grows with every successful reload that changed something.",
	})
	m.events = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "evctl_gateway_registry_events", Help: "Events in the registry in use.",
	})
	m.reloadErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "evctl_gateway_registry_reload_errors_total", Help: "Registry reloads that failed (the last good registry stayed).",
	})
	m.loads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "evctl_gateway_registry_loads_total", Help: "Events loaded (set fetched, converter built): on first use, after an eviction, or at a reload that changed one in use.",
	})
	m.evictions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "evctl_gateway_registry_evictions_total", Help: "Loaded events evicted because the events in use outgrew the registry budget (--registry-budget-mb); each is loaded again on its next request.",
	})
	m.loadedBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "evctl_gateway_registry_loaded_bytes", Help: "Estimated memory of the loaded events (converter plans, and descriptors where binary payloads needed them), which the registry budget bounds.",
	})
	m.producers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "evctl_gateway_kafka_producers", Help: "Kafka clients the gateway produces with: one more for each TopicsPerProducer topics written to (metadata refreshes stay bounded by that).",
	})
	m.reg.MustRegister(m.accepted, m.rejected, m.produce, m.generation, m.events, m.reloadErrors, m.loads, m.evictions, m.loadedBytes, m.producers,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{reasonInvalid, reasonUnknownEvent, reasonTooLarge, reasonUnauth, reasonForbidden, reasonKafka, reasonRefused, reasonDescriptors} {
		m.rejected.WithLabelValues(r)
	}
	return m
}
