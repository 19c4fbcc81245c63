package worker

import "github.com/prometheus/client_golang/prometheus"

// MetricsRegistry returns a fresh registry holding the collectors every worker (ingest, count,
// consumers) serves on /metrics, with one child in each labelled vector so that Gather lists
// every family. Dashboards and alert rules are checked against it (examples/monitoring).
func MetricsRegistry() *prometheus.Registry {
	m := newMetrics(prometheus.NewRegistry())
	m.in.WithLabelValues("t")
	m.out.WithLabelValues("t")
	m.dlq.WithLabelValues("t")
	m.lag.WithLabelValues("t", "0")
	m.paused.WithLabelValues("t", "0")
	m.waitingFor.WithLabelValues("sink")
	return m.reg
}
