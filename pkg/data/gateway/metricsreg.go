package gateway

import "github.com/prometheus/client_golang/prometheus"

// MetricsRegistry returns a fresh registry holding the collectors a Gateway serves on /metrics,
// with one child in each labelled vector so that Gather lists every family. It is what
// dashboards and alert rules are checked against (examples/monitoring), so they cannot name a
// metric the gateway does not export.
func MetricsRegistry() *prometheus.Registry {
	m := newMetrics()
	m.accepted.WithLabelValues("example")
	m.reg.MustRegister((&Registry{}).loadedGauge())
	return m.reg
}
