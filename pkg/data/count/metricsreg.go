package count

import "github.com/prometheus/client_golang/prometheus"

// MetricsRegistry returns a fresh registry holding the collectors `evctl count` adds to the
// worker's (see worker.MetricsRegistry). Dashboards and alert rules are checked against it
// (examples/monitoring).
func MetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister((&Handler{}).collector())
	return reg
}
