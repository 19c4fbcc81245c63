package route

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// consumerGatherer adds consumer="<name>" to every metric of one consumer's registry that does
// not carry it yet (the worker's own collectors), so the registries of several consumers that
// read the same topic merge into one /metrics without clashing.
type consumerGatherer struct {
	name string
	reg  *prometheus.Registry
}

func (g consumerGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := g.reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			if !slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == "consumer" }) {
				m.Label = append(m.Label, &dto.LabelPair{Name: proto.String("consumer"), Value: proto.String(g.name)})
			}
		}
	}
	return mfs, err
}

// serveHTTP serves /metrics of every running consumer (labelled consumer="<name>"), and
// /healthz and /readyz that answer 200 only when every consumer's worker does (the first that
// does not is named in the answer).
func (s *supervisor) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	names := slices.Sorted(maps.Keys(s.runners))
	runners := make([]*runner, len(names))
	for i, n := range names {
		runners[i] = s.runners[n]
	}
	s.mu.Unlock()
	if r.URL.Path == "/metrics" {
		var gs prometheus.Gatherers
		for i, rn := range runners {
			gs = append(gs, consumerGatherer{name: names[i], reg: rn.w.Metrics()})
		}
		promhttp.HandlerFor(gs, promhttp.HandlerOpts{}).ServeHTTP(w, r)
		return
	}
	if len(runners) == 0 {
		http.Error(w, "no consumer running (none published yet?)", http.StatusServiceUnavailable)
		return
	}
	var last *httptest.ResponseRecorder
	for i, rn := range runners {
		rec := httptest.NewRecorder()
		rn.w.HTTPHandler().ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			http.Error(w, fmt.Sprintf("consumer %s: %s", names[i], rec.Body.String()), rec.Code)
			return
		}
		last = rec
	}
	w.WriteHeader(last.Code)
	_, _ = w.Write(last.Body.Bytes())
}
