// Package monitoring_test checks the example Grafana dashboard and Prometheus alert rules
// against the metrics the gateway and the workers really register.
package monitoring_test

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/data/count"
	"github.com/evctl/evctl/pkg/data/gateway"
	"github.com/evctl/evctl/pkg/data/worker"
)

// registered gathers the series names the code exports, histograms with their suffixes.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, reg := range []*prometheus.Registry{gateway.MetricsRegistry(), worker.MetricsRegistry(), count.MetricsRegistry()} {
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			n := f.GetName()
			names[n] = true
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				names[n+"_bucket"], names[n+"_sum"], names[n+"_count"] = true, true, true
			case dto.MetricType_SUMMARY:
				names[n+"_sum"], names[n+"_count"] = true, true
			}
		}
	}
	return names
}

func TestRegisteredIncludesEveryFamily(t *testing.T) {
	names := registered(t)
	for _, n := range []string{"evctl_gateway_accepted_total", "evctl_gateway_produce_seconds_bucket",
		"evctl_worker_lag", "evctl_worker_dlq_total", "evctl_worker_waiting", "evctl_count_store_writes_total"} {
		if !names[n] {
			t.Errorf("%s is not among the gathered metrics", n)
		}
	}
}

// dashboard is the part of Grafana's model the test reads.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	return d
}

// rules is Prometheus's rule file format; decoding is strict so a misspelt key fails.
type rules struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) rules {
	t.Helper()
	b, err := os.ReadFile("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var r rules
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	return r
}

func TestDashboardMetricsAreRegistered(t *testing.T) {
	names := registered(t)
	d := readDashboard(t)
	used := map[string]bool{}
	n := 0
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			n++
			ms, err := metricNames(tg.Expr)
			if err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
			}
			if len(ms) == 0 {
				t.Errorf("panel %q: %q names no metric", p.Title, tg.Expr)
			}
			for _, m := range ms {
				used[m] = true
				if !names[m] {
					t.Errorf("panel %q: metric %s is not registered by the gateway or the workers", p.Title, m)
				}
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition == "" {
			continue
		}
		ms, err := metricNames(v.Definition)
		if err != nil {
			t.Errorf("variable %s: %v", v.Name, err)
		}
		for _, m := range ms {
			if !names[m] {
				t.Errorf("variable %s: metric %s is not registered", v.Name, m)
			}
		}
	}
	// What the dashboard promises to show (README, issue 17).
	for _, m := range []string{"evctl_gateway_accepted_total", "evctl_gateway_rejected_total",
		"evctl_gateway_produce_seconds_bucket", "evctl_worker_lag", "evctl_worker_dlq_total",
		"evctl_worker_flush_seconds_bucket", "evctl_worker_offset_commit_seconds_bucket",
		"evctl_count_store_writes_total", "evctl_gateway_registry_reload_errors_total"} {
		if !used[m] {
			t.Errorf("the dashboard does not chart %s", m)
		}
	}
	if n < 10 {
		t.Errorf("dashboard has %d queries, want at least 10", n)
	}
}

func TestAlertRules(t *testing.T) {
	names := registered(t)
	r := readRules(t)
	if len(r.Groups) == 0 {
		t.Fatal("alerts.yaml: no groups")
	}
	alerts := map[string]string{}
	for _, g := range r.Groups {
		if g.Name == "" {
			t.Error("a group has no name")
		}
		if len(g.Rules) == 0 {
			t.Errorf("group %s has no rules", g.Name)
		}
		for _, rl := range g.Rules {
			if (rl.Alert == "") == (rl.Record == "") {
				t.Errorf("group %s: a rule must have exactly one of alert and record (%q, %q)", g.Name, rl.Alert, rl.Record)
			}
			if rl.For != "" {
				if _, err := model.ParseDuration(rl.For); err != nil {
					t.Errorf("%s: for: %v", rl.Alert, err)
				}
			}
			if rl.Alert != "" && rl.Labels["severity"] == "" {
				t.Errorf("%s: no severity label", rl.Alert)
			}
			if rl.Alert != "" && rl.Annotations["summary"] == "" {
				t.Errorf("%s: no summary annotation", rl.Alert)
			}
			ms, err := metricNames(rl.Expr)
			if err != nil {
				t.Errorf("%s: %v", rl.Alert, err)
			}
			if len(ms) == 0 {
				t.Errorf("%s: expr names no metric", rl.Alert)
			}
			for _, m := range ms {
				if !names[m] {
					t.Errorf("%s: metric %s is not registered by the gateway or the workers", rl.Alert, m)
				}
			}
			alerts[rl.Alert] = rl.Expr
		}
	}
	// The alerts issue 17 asks for, each on the metric that measures it.
	for alert, metric := range map[string]string{
		"EvctlConsumerLagGrowing":           "evctl_worker_lag",
		"EvctlDeadLetterGrowing":            "evctl_worker_dlq_total",
		"EvctlGateway5xx":                   "evctl_gateway_rejected_total",
		"EvctlGatewayRegistryReloadFailing": "evctl_gateway_registry_reload_errors_total",
	} {
		expr, ok := alerts[alert]
		if !ok {
			t.Errorf("alert %s missing", alert)
			continue
		}
		ms, _ := metricNames(expr)
		if !contains(ms, metric) {
			t.Errorf("alert %s does not use %s (uses %v)", alert, metric, ms)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string]string{
		`sum by (job, le) (rate(a_bucket{x="y,z", le!="1"}[5m])) / on(job) group_left(le) b`:          "a_bucket b",
		`histogram_quantile(0.99, sum without (instance) (rate(c_seconds_bucket[$__rate_interval])))`: "c_seconds_bucket",
		`d > 0 and e offset 5m unless f @ 100`:                                                        "d e f",
		`label_values(g_total, event)`:                                                                "g_total",
		`{__name__="h"}`:                                                                              "h",
		`sum(i) by (topic) > bool 1e3`:                                                                "i",
		`count_values("v", j) or topk(3, k) or max_over_time(l[1h:5m])`:                               "j k l",
		`sum by (job) (deriv(evctl_worker_lag[10m])) > 0 and vector(1)`:                               "evctl_worker_lag",
	} {
		got, err := metricNames(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		sort.Strings(got)
		if strings.Join(got, " ") != want {
			t.Errorf("%s: got %v, want %s", expr, got, want)
		}
	}
	for _, bad := range []string{`sum(rate(a[5m])`, `a{x="y"`, `rate(a[5m)`, `a{x="y}`} {
		if _, err := metricNames(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func FuzzMetricNames(f *testing.F) {
	f.Add(`sum by (le) (rate(a_bucket{x="y"}[5m]))`)
	f.Add(`label_values(g, event)`)
	f.Fuzz(func(t *testing.T, expr string) { _, _ = metricNames(expr) })
}
