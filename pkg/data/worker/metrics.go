package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	reg        *prometheus.Registry
	in         *prometheus.CounterVec
	out        *prometheus.CounterVec
	dlq        *prometheus.CounterVec
	lag        *prometheus.GaugeVec
	paused     *prometheus.GaugeVec
	flush      prometheus.Histogram
	commit     prometheus.Histogram
	flushErrs  prometheus.Counter
	waitingFor *prometheus.GaugeVec
	// outs caches out's counter per topic: a label lookup per record costs more than the count.
	outs map[string]prometheus.Counter
}

// outOf is the records-out counter of topic (the worker's goroutine only).
func (m *metrics) outOf(topic string) prometheus.Counter {
	c, ok := m.outs[topic]
	if !ok {
		c = m.out.WithLabelValues(topic)
		m.outs[topic] = c
	}
	return c
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{reg: reg, outs: map[string]prometheus.Counter{}}
	m.in = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evctl_worker_records_in_total", Help: "Records polled from Kafka, per topic."}, []string{"topic"})
	m.out = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evctl_worker_records_out_total", Help: "Records taken by the sink, per topic."}, []string{"topic"})
	m.dlq = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evctl_worker_dlq_total", Help: "Records sent to the dead-letter topic, per source topic."}, []string{"topic"})
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "evctl_worker_lag", Help: "Records between the partition's high watermark and the worker's position."}, []string{"topic", "partition"})
	m.paused = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "evctl_worker_partition_paused", Help: "1 while the partition waits for the sink (e.g. a table lacking a field), with the reason in the logs."}, []string{"topic", "partition"})
	m.flush = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "evctl_worker_flush_seconds", Help: "Duration of successful sink flushes (store writes and commit).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "evctl_worker_offset_commit_seconds", Help: "Duration of Kafka offset commits.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	m.flushErrs = prometheus.NewCounter(prometheus.CounterOpts{Name: "evctl_worker_flush_errors_total", Help: "Sink flushes that failed and were retried."})
	m.waitingFor = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "evctl_worker_waiting", Help: "1 while the worker waits for the named dependency (sink, dlq, descriptors) to come back."}, []string{"on"})
	reg.MustRegister(m.in, m.out, m.dlq, m.lag, m.paused, m.flush, m.commit, m.flushErrs, m.waitingFor)
	// A second worker in one process (evctl dev) brings its own registry; collectors of the
	// process are registered once per registry, which Prometheus allows.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// health is what /healthz and /readyz answer.
type health struct {
	alive   atomic.Int64 // unix nanos of the loop's last iteration
	joined  atomic.Bool
	lastErr atomic.Pointer[string]
}

func (h *health) setErr(err error) {
	if err == nil {
		h.lastErr.Store(nil)
		return
	}
	s := err.Error()
	h.lastErr.Store(&s)
}

// HTTPHandler serves /metrics, /healthz and /readyz.
func (w *Worker) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(w.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(rw http.ResponseWriter, _ *http.Request) {
		// The loop iterates at least every poll interval even when idle or backing off.
		if last := w.health.alive.Load(); last != 0 && time.Since(time.Unix(0, last)) > 2*time.Minute {
			http.Error(rw, "worker loop stalled", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(rw, "ok")
	})
	mux.HandleFunc("/readyz", func(rw http.ResponseWriter, _ *http.Request) {
		if p := w.health.lastErr.Load(); p != nil {
			http.Error(rw, "waiting: "+*p, http.StatusServiceUnavailable)
			return
		}
		if !w.health.joined.Load() {
			http.Error(rw, "not yet in the consumer group", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(rw, "ready")
	})
	return mux
}

// Serve answers HTTPHandler on ln until ctx ends.
func (w *Worker) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: w.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(w.log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
